import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { RELATIONS, ROLES } from '@gridflow/engine';

function IsObjectOrString(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isObjectOrString',
      validator: {
        validate: (v: unknown) => (typeof v === 'string' && v.length > 0) || (typeof v === 'object' && v !== null && !Array.isArray(v)),
        defaultMessage: () => 'definition must be a JSON object or a YAML/JSON string',
      },
    },
    options,
  );
}

export class DefinitionDto {
  @ApiProperty({ description: 'The workflow definition: a JSON object, or YAML/JSON text', oneOf: [{ type: 'object' }, { type: 'string' }] })
  @IsDefined()
  @IsObjectOrString()
  definition: Record<string, unknown> | string;
}

export class ValidateDto {
  @ApiPropertyOptional({ description: 'Defaults to the current draft', oneOf: [{ type: 'object' }, { type: 'string' }] })
  @IsOptional()
  @IsObjectOrString()
  definition?: Record<string, unknown> | string;
}

export class DeprecateDto {
  @ApiProperty()
  @IsBoolean()
  deprecated: boolean;
}

export class DiffQuery {
  @ApiProperty()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  from: number;

  @ApiProperty()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  to: number;
}

export class MigrateDto {
  @ApiProperty()
  @IsInt()
  @Min(1)
  fromVersion: number;

  @ApiProperty()
  @IsInt()
  @Min(1)
  toVersion: number;

  @ApiProperty({ description: 'true: report only; false: apply (audited by an event on each task)' })
  @IsBoolean()
  dryRun: boolean;
}

export class SimulatedActorDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  userId?: string;

  @ApiProperty({ enum: ROLES, isArray: true })
  @IsArray()
  @IsIn(ROLES, { each: true })
  roles: string[];

  @ApiProperty({ enum: [...RELATIONS, 'none'] })
  @IsIn([...RELATIONS, 'none'])
  relation: (typeof RELATIONS)[number] | 'none';
}

export class SimulationStepDto {
  @ApiProperty({ type: SimulatedActorDto })
  @ValidateNested()
  @Type(() => SimulatedActorDto)
  actor: SimulatedActorDto;

  @ApiProperty()
  @IsString()
  @MaxLength(64)
  action: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  payload?: Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  facts?: Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsISO8601({ strict: true })
  at?: string;
}

export class SimulateDto {
  @ApiProperty({ type: [SimulationStepDto] })
  @IsArray()
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => SimulationStepDto)
  steps: SimulationStepDto[];

  @ApiPropertyOptional({ description: 'A published version to simulate; default: the draft' })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(32)
  entryState?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsISO8601({ strict: true })
  dueAt?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsISO8601({ strict: true })
  startAt?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  facts?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Approvers by `role:relation`' })
  @IsOptional()
  @IsObject()
  directory?: Record<string, string[]>;
}

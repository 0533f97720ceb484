import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/pagination.js';
import { MaxJsonBytes } from '../../common/max-json-bytes.js';

const MAX_FEN = 10_000_000_000_000;

export class GrantRequestDto {
  @ApiProperty({ example: 'CREW_COMMAND' })
  @IsString()
  @Matches(/^[A-Z][A-Z0-9_]{1,63}$/, { message: 'powerCode must be an upper-case catalog code' })
  powerCode: string;

  @ApiPropertyOptional({ description: 'Territorial scope: the receiving unit (default) or a unit inside it' })
  @IsOptional()
  @IsUUID()
  scopeOrgUnitId?: string;

  @ApiPropertyOptional({ description: 'Spending cap for money-bearing powers (integer fen)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_FEN)
  capFen?: number;

  @ApiPropertyOptional({ description: 'Default: the child task’s due time' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  validUntil?: string;
}

export class HandoffItemDto {
  @ApiProperty()
  @IsUUID()
  assigneeOrgUnitId: string;

  @ApiPropertyOptional({ description: 'Default: the parent task’s title' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  title?: string;

  @ApiPropertyOptional({ description: 'Default: the parent’s due time; never later' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  dueAt?: string;

  @ApiProperty({ description: 'Moved into the child’s escrow (integer fen, > 0)', example: 20000000 })
  @IsInt()
  @Min(0)
  @Max(MAX_FEN)
  fundingFen: number;

  @ApiProperty({ type: [GrantRequestDto] })
  @IsArray()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => GrantRequestDto)
  grants: GrantRequestDto[];

  @ApiPropertyOptional({ description: 'Assistance mode, rights and obligations', example: { assistanceMode: '技术指导', obligations: '按月报送进度' } })
  @IsOptional()
  @IsObject()
  // below the TEXT column's 65,535 bytes: an extension request later adds `pendingExtension` to the terms
  @MaxJsonBytes(60_000)
  terms?: Record<string, unknown>;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  weight?: number;
}

export class HandoffsDto {
  @ApiProperty({ type: [HandoffItemDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(5000)
  @ValidateNested({ each: true })
  @Type(() => HandoffItemDto)
  handoffs: HandoffItemDto[];
}

export class ExpenseDto {
  @ApiProperty({ example: 1250000 })
  @IsInt()
  @Min(1)
  @Max(MAX_FEN)
  amountFen: number;

  @ApiProperty({ example: '某某园林工程有限公司' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  payee: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class LedgerQuery extends PageQuery {}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';

export class CreateTaskDto {
  @ApiProperty({ example: '春季消防安全隐患排查整治' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  title: string;

  @ApiProperty({ example: 'FIRE_HAZARD_CAMPAIGN' })
  @IsString()
  @Matches(/^[A-Z][A-Z0-9_]{1,63}$/, { message: 'categoryCode must be an upper-case catalog code' })
  categoryCode: string;

  @ApiProperty({ example: '2026-12-31T09:00:00Z' })
  @IsISO8601({ strict: true, strictSeparator: true })
  dueAt: string;

  @ApiPropertyOptional({ description: 'Moved from the unit budget into the task escrow (integer fen)', example: 5000000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000_000_000_000)
  fundingFen?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(10000)
  description?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  weight?: number;
}

export class ListTasksQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['inbox', 'issued', 'all'], default: 'all' })
  @IsOptional()
  @IsIn(['inbox', 'issued', 'all'])
  view: 'inbox' | 'issued' | 'all' = 'all';

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[a-z_]{1,32}$/)
  state?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[A-Z][A-Z0-9_]{1,63}$/)
  categoryCode?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  overdue?: boolean;
}

export class EventsQuery {
  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  afterSeq: number = 0;

  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 100;
}

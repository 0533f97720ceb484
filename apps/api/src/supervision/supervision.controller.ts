import { Controller, Get, Module, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Auth, Authenticated, Permission, type Principal } from '@gridflow/common';
import { SupervisionService, TimersDomainModule } from '@gridflow/domain';
import { decodeCursor, encodeCursor, PageQuery } from '../common/pagination.js';

class ListSupervisionQuery extends PageQuery {
  @ApiPropertyOptional({
    minimum: 2,
    maximum: 3,
    description: '2: supervision (督办); 3: listed supervision (挂牌督办)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3)
  level?: number;

  @ApiPropertyOptional({ description: 'true: unresolved entries only; false: resolved only' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' || value === '' ? true : value === 'false' ? false : value))
  @IsBoolean()
  open?: boolean;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length === 36;

/** Supervision entries opened by the escalation ladder, for the tasks the caller may see (newest first). */
@ApiTags('supervision')
@Controller('supervision')
export class SupervisionController {
  constructor(private readonly supervision: SupervisionService) {}

  @Get()
  @Authenticated({ permission: Permission.TaskRead })
  async list(@Auth() principal: Principal, @Query() q: ListSupervisionQuery) {
    const rows = await this.supervision.list(principal, {
      level: q.level,
      open: q.open,
      limit: q.limit,
      afterId: decodeCursor(q.cursor, isId),
    });
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { items: page, nextCursor: more ? encodeCursor(page[page.length - 1].id) : null };
  }
}

@Module({ imports: [TimersDomainModule], controllers: [SupervisionController] })
export class SupervisionApiModule {}

import { Controller, Get, HttpCode, Module, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { Auth, Authenticated, Permission, type Principal } from '@gridflow/common';
import { NotificationService, TaskDomainModule } from '@gridflow/domain';
import type { NotificationEntity } from '@gridflow/persistence';
import { decodeCursor, encodeCursor, PageQuery } from '../common/pagination.js';

class ListNotificationsQuery extends PageQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @Transform(({ value }) => (value === 'true' || value === '' ? true : value === 'false' ? false : value))
  @IsBoolean()
  unread?: boolean;
}

const view = (n: NotificationEntity) => ({
  id: n.id,
  taskId: n.taskId,
  template: n.template,
  title: n.title,
  createdAt: n.createdAt.toISOString(),
  readAt: n.readAt ? n.readAt.toISOString() : null,
});

const isId = (v: unknown): v is string => typeof v === 'string' && v.length === 36;

/** The caller's in-app inbox. */
@ApiTags('notifications')
@Controller('notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationService) {}

  @Get()
  @Authenticated({ permission: Permission.NotificationRead })
  async list(@Auth() principal: Principal, @Query() q: ListNotificationsQuery) {
    const rows = await this.notifications.list(principal, { unread: q.unread, limit: q.limit, afterId: decodeCursor(q.cursor, isId) });
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { items: page.map(view), nextCursor: more ? encodeCursor(page[page.length - 1].id) : null };
  }

  @Post(':id/read')
  @HttpCode(200)
  @Authenticated({ permission: Permission.NotificationRead })
  async read(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    return view(await this.notifications.markRead(principal, id));
  }
}

@Module({ imports: [TaskDomainModule], controllers: [NotificationsController] })
export class NotificationsModule {}

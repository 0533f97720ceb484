import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Auth, Authenticated, Permission, type Principal } from '@gridflow/common';
import { TaskShell } from '@gridflow/domain';
import { TaskTimerEntity } from '@gridflow/persistence';

export class TaskTimerView {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'progress-reminder', description: "The workflow's (or the category policy's) timer id" }) timerId: string;
  @ApiProperty({ example: 'in_progress', description: 'The state the timer runs in' }) state: string;
  @ApiProperty({ enum: ['remind', 'escalate', 'action'] }) kind: string;
  @ApiPropertyOptional({ description: 'Escalation rung (1 催办, 2 督办, 3 挂牌督办)' }) level?: number;
  @ApiProperty() dueAt: string;
  @ApiProperty({ enum: ['pending', 'fired', 'cancelled'] }) status: string;
  @ApiProperty({ nullable: true }) firedAt: string | null;
}

export class TaskTimerList {
  @ApiProperty({ type: [TaskTimerView] }) items: TaskTimerView[];
}

/** The clock of a task: its reminders, escalations and timed actions, pending and past (at most 200, by due time). */
@ApiTags('tasks')
@Controller('tasks')
export class TaskTimersController {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
  ) {}

  @Get(':id/timers')
  @Authenticated({ permission: Permission.TaskRead })
  @ApiOkResponse({ type: TaskTimerList })
  async list(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<TaskTimerList> {
    await this.shell.getVisible(principal, id);
    const rows = await this.ds.getRepository(TaskTimerEntity).find({
      where: { taskId: id },
      order: { dueAt: 'ASC', id: 'ASC' },
      take: 200,
    });
    return {
      items: rows.map((r) => {
        const action = r.doAction as { kind?: string; level?: number };
        return {
          id: r.id,
          timerId: r.timerId,
          state: r.state,
          kind: action.kind ?? 'remind',
          ...(action.kind === 'escalate' ? { level: Number(action.level ?? 1) } : {}),
          dueAt: r.dueAt.toISOString(),
          status: r.status,
          firedAt: r.firedAt ? r.firedAt.toISOString() : null,
        };
      }),
    };
  }
}

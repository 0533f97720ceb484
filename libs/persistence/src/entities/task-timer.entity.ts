import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonTransformer, type JsonObject } from './transformers.js';

/**
 * A durable timer started by a workflow, written in the transaction of the action that started it.
 * The database row is the truth; a queue job only wakes the worker at `dueAt`.
 */
@Entity({ name: 'task_timers' })
@Index('ix_task_timers_due', ['status', 'dueAt'])
@Index('ix_task_timers_task', ['taskId'])
export class TaskTimerEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId: string;

  @Column({ name: 'timer_id', type: 'varchar', length: 64 })
  timerId: string;

  @Column({ type: 'varchar', length: 32 })
  state: string;

  @Column({ name: 'due_at', type: 'datetime', precision: 3 })
  dueAt: Date;

  /** pending, fired or cancelled */
  @Column({ type: 'varchar', length: 16 })
  status: string;

  @Column({ name: 'do_action', type: 'text', transformer: jsonTransformer })
  doAction: JsonObject;

  @Column({ name: 'task_version', type: 'int', unsigned: true })
  taskVersion: number;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;

  @Column({ name: 'fired_at', type: 'datetime', precision: 3, nullable: true, default: null })
  firedAt: Date | null;

  /** The last error of a firing that exhausted its retries (kept for admins; the sweeper leaves such rows alone). */
  @Column({ name: 'last_error', type: 'text', nullable: true, default: null })
  lastError: string | null;
}

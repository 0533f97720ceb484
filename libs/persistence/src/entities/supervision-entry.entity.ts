import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A supervision entry opened by the escalation ladder: level 2 is supervision (督办) by the owner's superior,
 * level 3 is listed supervision (挂牌督办) visible to the district. `supervisorOrgUnitId` is the unit that
 * supervises. Resolved when the task reaches a final state (the sweeper closes the entries of closed tasks).
 */
@Entity({ name: 'supervision_entries' })
@Index('ix_supervision_task', ['taskId', 'level'])
@Index('ix_supervision_supervisor', ['supervisorOrgUnitId', 'resolvedAt'])
export class SupervisionEntryEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId: string;

  @Column({ type: 'tinyint', unsigned: true })
  level: number;

  @Column({ name: 'supervisor_org_unit_id', type: 'char', length: 36 })
  supervisorOrgUnitId: string;

  /** The timer row whose firing opened the entry; unique, so a duplicate firing cannot open a second one. */
  @Index('ux_supervision_timer', { unique: true })
  @Column({ name: 'timer_row_id', type: 'char', length: 36 })
  timerRowId: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;

  @Column({ name: 'resolved_at', type: 'datetime', precision: 3, nullable: true, default: null })
  resolvedAt: Date | null;
}

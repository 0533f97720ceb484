import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from './timestamps.js';
import { jsonTransformer, type JsonObject } from './transformers.js';

/**
 * A task: owned by the unit that issued it (and will verify it), assigned to the unit that does it. Owner and
 * assignee paths are copied from the org tree so scope checks and subtree lists are prefix matches.
 * `version` is the optimistic lock: every action increments it.
 */
@Entity({ name: 'tasks' })
@Index('ix_tasks_inbox', ['assigneeOrgUnitId', 'isOpen', 'dueAt', 'id'])
@Index('ix_tasks_issued', ['ownerOrgUnitId', 'isOpen', 'dueAt', 'id'])
@Index('ix_tasks_issued_due', ['ownerOrgUnitId', 'dueAt', 'id'])
@Index('ix_tasks_due', ['dueAt', 'id'])
@Index('ix_tasks_parent', ['parentId'])
@Index('ix_tasks_assignee_path_due', ['assigneePath', 'dueAt'])
@Index('ix_tasks_overdue', ['isOpen', 'overdueSince', 'dueAt'])
export class TaskEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'text', nullable: true, default: null })
  description: string | null;

  @Column({ name: 'category_code', type: 'varchar', length: 64 })
  categoryCode: string;

  @Column({ name: 'owner_org_unit_id', type: 'char', length: 36 })
  ownerOrgUnitId: string;

  @Column({ name: 'assignee_org_unit_id', type: 'char', length: 36 })
  assigneeOrgUnitId: string;

  @Column({ name: 'owner_path', type: 'varchar', length: 760 })
  ownerPath: string;

  @Column({ name: 'assignee_path', type: 'varchar', length: 760 })
  assigneePath: string;

  @Column({ name: 'parent_id', type: 'char', length: 36, nullable: true, default: null })
  parentId: string | null;

  @Column({ name: 'root_id', type: 'char', length: 36 })
  rootId: string;

  @Column({ type: 'smallint', unsigned: true, default: 0 })
  depth: number;

  @Column({ type: 'varchar', length: 32 })
  state: string;

  /** False once the task reaches a final state of its workflow. */
  @Column({ name: 'is_open', type: 'boolean', default: true })
  isOpen: boolean;

  @Column({ type: 'tinyint', unsigned: true, default: 0 })
  progress: number;

  @Column({ type: 'int', unsigned: true, default: 1 })
  weight: number;

  @Column({ name: 'due_at', type: 'datetime', precision: 3 })
  dueAt: Date;

  @Column({ name: 'workflow_key', type: 'varchar', length: 64 })
  workflowKey: string;

  @Column({ name: 'workflow_version', type: 'int', unsigned: true })
  workflowVersion: number;

  @Column({ type: 'int', unsigned: true, default: 1 })
  version: number;

  /** The engine's approval state while an approval step is in progress. */
  @Column({ type: 'longtext', nullable: true, default: null, transformer: jsonTransformer })
  approval: JsonObject | null;

  /** Handoff terms: assistance mode, rights and obligations, agreed consultation terms. */
  @Column({ type: 'text', nullable: true, default: null, transformer: jsonTransformer })
  terms: JsonObject | null;

  @Column({ name: 'return_count', type: 'int', unsigned: true, default: 0 })
  returnCount: number;

  @Column({ name: 'rejection_count', type: 'int', unsigned: true, default: 0 })
  rejectionCount: number;

  @Column({ name: 'extension_count', type: 'int', unsigned: true, default: 0 })
  extensionCount: number;

  /** Highest escalation level reached: 0 none, 1 urge (催办), 2 supervision (督办), 3 listed supervision (挂牌督办). */
  @Column({ name: 'escalation_level', type: 'tinyint', unsigned: true, default: 0 })
  escalationLevel: number;

  /** When the task was first found open past its due time (set by the deadline timer or the sweeper). */
  @Column({ name: 'overdue_since', type: 'datetime', precision: 3, nullable: true, default: null })
  overdueSince: Date | null;

  @Column({ name: 'children_total', type: 'int', unsigned: true, default: 0 })
  childrenTotal: number;

  @Column({ name: 'children_open', type: 'int', unsigned: true, default: 0 })
  childrenOpen: number;

  @Column({ name: 'children_closed', type: 'int', unsigned: true, default: 0 })
  childrenClosed: number;

  @Column({ name: 'children_returned', type: 'int', unsigned: true, default: 0 })
  childrenReturned: number;

  @Column({ name: 'children_overdue', type: 'int', unsigned: true, default: 0 })
  childrenOverdue: number;

  @Column({ name: 'created_by', type: 'char', length: 36 })
  createdBy: string;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @Column({ name: 'closed_at', type: 'datetime', precision: 3, nullable: true, default: null })
  closedAt: Date | null;

  /**
   * The head of the task's event chain: the seq and hash of its last event, written in the transaction that appends
   * it, so the next append reads no event. NULL on a task whose events all predate these columns.
   */
  @Column({ name: 'last_event_seq', type: 'int', unsigned: true, nullable: true, default: null })
  lastEventSeq: number | null;

  @Column({ name: 'last_event_hash', type: 'char', length: 64, nullable: true, default: null })
  lastEventHash: string | null;
}

import { Column, Entity, PrimaryColumn } from 'typeorm';
import { jsonTransformer, type JsonObject } from './transformers.js';

/**
 * Append-only history of a task. Each event's hash covers its content and the previous event's hash,
 * so editing or deleting any event breaks the chain from there on.
 */
@Entity({ name: 'task_events' })
export class TaskEventEntity {
  @PrimaryColumn({ name: 'task_id', type: 'char', length: 36 })
  taskId: string;

  @PrimaryColumn({ type: 'int', unsigned: true })
  seq: number;

  @Column({ type: 'varchar', length: 64 })
  action: string;

  @Column({ name: 'from_state', type: 'varchar', length: 32, nullable: true, default: null })
  fromState: string | null;

  @Column({ name: 'to_state', type: 'varchar', length: 32 })
  toState: string;

  @Column({ name: 'actor_user_id', type: 'char', length: 36, nullable: true, default: null })
  actorUserId: string | null;

  @Column({ name: 'actor_org_unit_id', type: 'char', length: 36, nullable: true, default: null })
  actorOrgUnitId: string | null;

  @Column({ type: 'longtext', transformer: jsonTransformer })
  payload: JsonObject;

  @Column({ type: 'datetime', precision: 3 })
  at: Date;

  @Column({ type: 'char', length: 64 })
  hash: string;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;
}

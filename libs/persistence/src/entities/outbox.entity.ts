import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { jsonTransformer, type JsonObject } from './transformers.js';

/**
 * Work derived from a committed change, written in the same transaction as the change. The worker's relay
 * publishes each row to BullMQ with the row id as the job id (notify rows: several in one NotifyBatch job, named in
 * job_id), then marks it sent.
 */
@Entity({ name: 'outbox' })
@Index('ix_outbox_pending', ['sentAt', 'id'])
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id: string;

  @Column({ name: 'job_name', type: 'varchar', length: 64 })
  jobName: string;

  @Column({ name: 'aggregate_id', type: 'char', length: 36, nullable: true, default: null })
  aggregateId: string | null;

  @Column({ type: 'text', transformer: jsonTransformer })
  payload: JsonObject;

  @Column({ name: 'correlation_id', type: 'varchar', length: 64, nullable: true, default: null })
  correlationId: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;

  @Column({ name: 'sent_at', type: 'datetime', precision: 3, nullable: true, default: null })
  sentAt: Date | null;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts: number;

  @Column({ name: 'last_error', type: 'text', nullable: true, default: null })
  lastError: string | null;

  /** The job the row last went out in, when not its own (a NotifyBatch job); NULL: the row's own job. */
  @Column({ name: 'job_id', type: 'varchar', length: 100, nullable: true, default: null })
  jobId: string | null;
}

/** One row per outbox row whose effect was applied: consumers check it to stay idempotent. */
@Entity({ name: 'applied_effects' })
export class AppliedEffectEntity {
  @Column({ name: 'outbox_id', type: 'bigint', unsigned: true, primary: true })
  outboxId: string;

  @Column({ name: 'job_name', type: 'varchar', length: 64 })
  jobName: string;

  @Column({ name: 'applied_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  appliedAt: Date;
}

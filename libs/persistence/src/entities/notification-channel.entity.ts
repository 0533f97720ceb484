import { Column, DeleteDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from './timestamps.js';
import { csvTransformer } from './transformers.js';

/**
 * An outbound webhook registered by an administrator. Its signing secret (HMAC-SHA256 of every delivery) is stored
 * only encrypted (`secretCiphertext`, AES-256-GCM under WEBHOOK_SECRET_KEY) and is never returned by the API.
 * `events` lists notification templates, or `*` for all. A deleted endpoint is kept (soft delete, secret wiped) so
 * its past deliveries stay readable; it receives nothing more and the endpoint routes no longer find it.
 */
@Entity({ name: 'webhook_endpoints' })
export class WebhookEndpointEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 2000 })
  url: string;

  /** `v1.<base64url(iv ‖ tag ‖ ciphertext)>`; NULL once the endpoint is deleted. */
  @Column({ name: 'secret_ciphertext', type: 'varchar', length: 1536, nullable: true, default: null })
  secretCiphertext: string | null;

  @Column({ type: 'varchar', length: 2000, transformer: csvTransformer })
  events: string[];

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ name: 'created_by', type: 'char', length: 36 })
  createdBy: string;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @DeleteDateColumn({ name: 'deleted_at', type: 'datetime', precision: 3, nullable: true, default: null })
  deletedAt: Date | null;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One notification to one webhook endpoint, written in the notification's transaction. Unique per (endpoint,
 * notification): a retried notification never creates a second delivery. `payload` is the exact body sent.
 */
@Entity({ name: 'webhook_deliveries' })
@Index('ux_webhook_deliveries_endpoint_notification', ['endpointId', 'notificationId'], { unique: true })
@Index('ix_webhook_deliveries_status', ['status', 'id'])
export class WebhookDeliveryEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'endpoint_id', type: 'char', length: 36 })
  endpointId: string;

  @Column({ name: 'notification_id', type: 'char', length: 36 })
  notificationId: string;

  @Column({ name: 'task_id', type: 'char', length: 36, nullable: true, default: null })
  taskId: string | null;

  @Column({ type: 'varchar', length: 64 })
  template: string;

  /** The JSON body, byte for byte as it is POSTed (and signed) on every attempt. */
  @Column({ type: 'text' })
  payload: string;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: WebhookDeliveryStatus;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts: number;

  @Column({ name: 'last_status_code', type: 'smallint', unsigned: true, nullable: true, default: null })
  lastStatusCode: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true, default: null })
  lastError: string | null;

  @Column({ name: 'next_attempt_at', type: 'datetime', precision: 3, nullable: true, default: null })
  nextAttemptAt: Date | null;

  @Column({ name: 'delivered_at', type: 'datetime', precision: 3, nullable: true, default: null })
  deliveredAt: Date | null;

  /** How many times an administrator re-queued this delivery after it failed; `attempts` counts every POST. */
  @Column({ type: 'int', unsigned: true, default: 0 })
  resends: number;

  @Column({ name: 'resent_at', type: 'datetime', precision: 3, nullable: true, default: null })
  resentAt: Date | null;

  @Column({ name: 'resent_by', type: 'char', length: 36, nullable: true, default: null })
  resentBy: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}

export type SmsStatus = 'pending' | 'sent' | 'failed';

/** One SMS to one user about one notification; `dedup_key` is the notification's, so an SMS goes out once. */
@Entity({ name: 'sms_outbox' })
@Index('ix_sms_outbox_user', ['userId', 'id'])
export class SmsOutboxEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'char', length: 36 })
  userId: string;

  @Column({ name: 'notification_id', type: 'char', length: 36 })
  notificationId: string;

  @Column({ name: 'task_id', type: 'char', length: 36, nullable: true, default: null })
  taskId: string | null;

  @Column({ type: 'varchar', length: 32 })
  phone: string;

  @Column({ type: 'varchar', length: 64 })
  template: string;

  @Column({ type: 'varchar', length: 500 })
  text: string;

  @Index('ux_sms_outbox_dedup', { unique: true })
  @Column({ name: 'dedup_key', type: 'varchar', length: 200 })
  dedupKey: string;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: SmsStatus;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts: number;

  @Column({ type: 'varchar', length: 32, nullable: true, default: null })
  driver: string | null;

  @Column({ name: 'last_error', type: 'text', nullable: true, default: null })
  lastError: string | null;

  @Column({ name: 'sent_at', type: 'datetime', precision: 3, nullable: true, default: null })
  sentAt: Date | null;

  @CreatedAtColumn()
  createdAt: Date;
}

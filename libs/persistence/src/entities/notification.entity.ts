import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** An in-app notification. `dedupKey` (task, event, template, recipient) makes delivery idempotent. */
@Entity({ name: 'notifications' })
@Index('ix_notifications_user', ['userId', 'readAt', 'id'])
export class NotificationEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'char', length: 36 })
  userId: string;

  @Column({ name: 'task_id', type: 'char', length: 36, nullable: true, default: null })
  taskId: string | null;

  @Column({ type: 'varchar', length: 64 })
  template: string;

  @Column({ type: 'varchar', length: 300 })
  title: string;

  @Index('ux_notifications_dedup', { unique: true })
  @Column({ name: 'dedup_key', type: 'varchar', length: 200 })
  dedupKey: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;

  @Column({ name: 'read_at', type: 'datetime', precision: 3, nullable: true, default: null })
  readAt: Date | null;
}

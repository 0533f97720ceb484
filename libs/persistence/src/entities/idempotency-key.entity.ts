import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The stored response of a request sent with an Idempotency-Key, per user. */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyKeyEntity {
  @PrimaryColumn({ name: 'user_id', type: 'char', length: 36 })
  userId: string;

  @PrimaryColumn({ name: 'idem_key', type: 'varchar', length: 128 })
  key: string;

  @Column({ name: 'request_hash', type: 'char', length: 64 })
  requestHash: string;

  @Column({ name: 'status_code', type: 'smallint', unsigned: true })
  statusCode: number;

  @Column({ name: 'response_body', type: 'longtext' })
  responseBody: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;
}

import { CreateDateColumn, UpdateDateColumn } from 'typeorm';

/** `created_at DATETIME(3)`, set by the database on insert. */
export const CreatedAtColumn = () =>
  CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' });

/** `updated_at DATETIME(3)`, set by the database on insert and on every update. */
export const UpdatedAtColumn = () =>
  UpdateDateColumn({
    name: 'updated_at',
    type: 'datetime',
    precision: 3,
    default: () => 'CURRENT_TIMESTAMP(3)',
    onUpdate: 'CURRENT_TIMESTAMP(3)',
  });

import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from './timestamps.js';

/** A person acting for exactly one org unit. The password hash never leaves the persistence layer's callers. */
@Entity({ name: 'users' })
@Index('ix_users_org_unit', ['orgUnitId'])
export class UserEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Index('ux_users_username', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ name: 'display_name', type: 'varchar', length: 128 })
  displayName: string;

  @Column({ name: 'org_unit_id', type: 'char', length: 36 })
  orgUnitId: string;

  /** Comma-separated role names (admin, leader, staff, grid_worker, auditor). */
  @Column({
    type: 'varchar',
    length: 128,
    transformer: { to: (v: string[]) => v.join(','), from: (v: string) => (v ? v.split(',') : []) },
  })
  roles: string[];

  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash: string;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  /** Mobile number for SMS notices (optional); shown to administrators only. */
  @Column({ type: 'varchar', length: 32, nullable: true, default: null })
  phone: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}

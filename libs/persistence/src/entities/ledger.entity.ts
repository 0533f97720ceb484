import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { fenTransformer } from './transformers.js';

/**
 * An account of the double-entry ledger: an org unit's budget (`org-<unitId>`), a task's escrow (`task-<taskId>`),
 * or an external account (`external-appropriation`, `external-expense`). Only external accounts may go negative,
 * so the sum over all accounts is always zero.
 */
@Entity({ name: 'accounts' })
@Index('ix_accounts_org_unit', ['orgUnitId'])
@Index('ix_accounts_task', ['taskId'])
export class AccountEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  /** budget, escrow or external */
  @Column({ type: 'varchar', length: 16 })
  kind: string;

  @Column({ name: 'org_unit_id', type: 'char', length: 36, nullable: true, default: null })
  orgUnitId: string | null;

  @Column({ name: 'task_id', type: 'char', length: 36, nullable: true, default: null })
  taskId: string | null;

  @Column({ name: 'balance_fen', type: 'bigint', default: 0, transformer: fenTransformer })
  balanceFen: number;

  @Column({ name: 'may_go_negative', type: 'boolean', default: false })
  mayGoNegative: boolean;
}

/**
 * An immutable posting: `amountFen` moves from `creditAccount` to `debitAccount` (the debited account receives).
 */
@Entity({ name: 'ledger_entries' })
@Index('ix_ledger_task', ['taskId', 'id'])
@Index('ix_ledger_debit', ['debitAccount'])
@Index('ix_ledger_credit', ['creditAccount'])
export class LedgerEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id: string;

  @Column({ name: 'debit_account', type: 'varchar', length: 64 })
  debitAccount: string;

  @Column({ name: 'credit_account', type: 'varchar', length: 64 })
  creditAccount: string;

  @Column({ name: 'amount_fen', type: 'bigint', transformer: fenTransformer })
  amountFen: number;

  /** appropriation, funding, refund, expense, settlement */
  @Column({ type: 'varchar', length: 32 })
  kind: string;

  @Column({ name: 'task_id', type: 'char', length: 36, nullable: true, default: null })
  taskId: string | null;

  @Column({ name: 'actor_user_id', type: 'char', length: 36, nullable: true, default: null })
  actorUserId: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true, default: null })
  payee: string | null;

  @Column({ type: 'varchar', length: 500, nullable: true, default: null })
  note: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;
}

/**
 * A delegated power, issued with a handoff. A sub-grant may only narrow its parent: same power, scope inside,
 * cap no higher, validity no later. Revoked on return, withdraw, cancel and close.
 */
@Entity({ name: 'grants' })
@Index('ix_grants_task', ['taskId'])
@Index('ix_grants_grantee', ['granteeOrgUnitId', 'status'])
@Index('ix_grants_parent', ['parentGrantId'])
export class GrantEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Column({ name: 'power_code', type: 'varchar', length: 64 })
  powerCode: string;

  @Column({ name: 'grantor_org_unit_id', type: 'char', length: 36 })
  grantorOrgUnitId: string;

  @Column({ name: 'grantee_org_unit_id', type: 'char', length: 36 })
  granteeOrgUnitId: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId: string;

  @Column({ name: 'scope_org_unit_id', type: 'char', length: 36 })
  scopeOrgUnitId: string;

  @Column({ name: 'cap_fen', type: 'bigint', nullable: true, default: null, transformer: fenTransformer })
  capFen: number | null;

  @Column({ name: 'spent_fen', type: 'bigint', default: 0, transformer: fenTransformer })
  spentFen: number;

  @Column({ name: 'valid_until', type: 'datetime', precision: 3, nullable: true, default: null })
  validUntil: Date | null;

  @Column({ name: 'parent_grant_id', type: 'char', length: 36, nullable: true, default: null })
  parentGrantId: string | null;

  /** active, revoked or expired */
  @Column({ type: 'varchar', length: 16, default: 'active' })
  status: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'datetime', precision: 3, nullable: true, default: null })
  revokedAt: Date | null;
}

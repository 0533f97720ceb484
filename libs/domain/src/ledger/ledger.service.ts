import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import {
  DomainError,
  ErrorCode,
  Permission,
  permissionsOf,
  registerErrorStatuses,
  type Principal,
} from '@gridflow/common';
import { AccountEntity, insertRows, LedgerEntryEntity } from '@gridflow/persistence';
import { OrgDirectory } from '../org/org-directory.service.js';

/** Error codes of the ledger (stable, part of the public API). */
export const LedgerErrorCode = {
  AMOUNT_INVALID: 'AMOUNT_INVALID',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
} as const;

registerErrorStatuses({ AMOUNT_INVALID: 422, INSUFFICIENT_FUNDS: 422 });

/** Where appropriations come from: the district treasury, outside the platform. May go negative. */
export const EXTERNAL_APPROPRIATION = 'external-appropriation';
/** Where expenses go: payees outside the platform. May go negative (it never does in practice). */
export const EXTERNAL_EXPENSE = 'external-expense';
export const EXTERNAL_ACCOUNTS: readonly string[] = [EXTERNAL_APPROPRIATION, EXTERNAL_EXPENSE];

/** An org unit's budget account. */
export const orgAccountId = (orgUnitId: string): string => `org-${orgUnitId}`;
/** A task's escrow account. */
export const taskAccountId = (taskId: string): string => `task-${taskId}`;

export const POSTING_KINDS = ['appropriation', 'funding', 'refund', 'expense', 'settlement'] as const;
export type PostingKind = (typeof POSTING_KINDS)[number];

/** `amountFen` moves from `from` (credited) to `to` (debited, receives). */
export interface Posting {
  from: string;
  to: string;
  amountFen: number;
  kind: PostingKind;
  taskId?: string | null;
  actorUserId?: string | null;
  payee?: string | null;
  note?: string | null;
}

/** Largest amount a single posting may carry: 10^13 fen (100 billion yuan). */
export const MAX_POSTING_FEN = 10_000_000_000_000;

interface AccountSpec {
  id: string;
  kind: 'budget' | 'escrow' | 'external';
  orgUnitId: string | null;
  taskId: string | null;
  mayGoNegative: boolean;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const ORG_ACCOUNT = new RegExp(`^org-(${UUID})$`);
const TASK_ACCOUNT = new RegExp(`^task-(${UUID})$`);

/** Derives an account's kind and owner from its id; throws on ids that name no account. */
export function accountSpec(id: string): AccountSpec {
  if (EXTERNAL_ACCOUNTS.includes(id))
    return { id, kind: 'external', orgUnitId: null, taskId: null, mayGoNegative: true };
  const org = ORG_ACCOUNT.exec(id);
  if (org) return { id, kind: 'budget', orgUnitId: org[1], taskId: null, mayGoNegative: false };
  const task = TASK_ACCOUNT.exec(id);
  if (task) return { id, kind: 'escrow', orgUnitId: null, taskId: task[1], mayGoNegative: false };
  throw new Error(`"${id}" is not a ledger account id`);
}

/** The public shape of a ledger entry (DESIGN §7). */
export interface LedgerEntryView {
  id: string;
  taskId: string | null;
  debitAccount: string;
  creditAccount: string;
  amountFen: number;
  kind: string;
  actorUserId: string | null;
  createdAt: string;
}

export function toLedgerEntryView(e: LedgerEntryEntity): LedgerEntryView {
  return {
    id: String(e.id),
    taskId: e.taskId,
    debitAccount: e.debitAccount,
    creditAccount: e.creditAccount,
    amountFen: e.amountFen,
    kind: e.kind,
    actorUserId: e.actorUserId,
    createdAt: new Date(e.createdAt).toISOString(),
  };
}

function toSafeNumber(v: bigint, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n))
    throw new DomainError(LedgerErrorCode.AMOUNT_INVALID, `${what} exceeds the safe integer range`);
  return n;
}

/**
 * The double-entry ledger. Amounts are integer fen. A posting is immutable; balances change only through `post`,
 * which runs inside the caller's transaction so money moves atomically with the action that moves it. No account
 * but the external ones may go negative, so the sum over all accounts is always zero.
 *
 * Locking: `post` locks every account it touches in ascending id order. Call it once per transaction with all the
 * postings of that transaction; two calls in one transaction could take locks out of order and deadlock with a
 * concurrent caller.
 */
/** An account's balance in fen; 0 for an account that does not exist yet. */
export async function accountBalance(em: EntityManager, accountId: string): Promise<number> {
  const rows = (await em.query('SELECT CAST(balance_fen AS CHAR) AS balance FROM accounts WHERE id = ?', [accountId])) as {
    balance: string;
  }[];
  return rows[0] ? toSafeNumber(BigInt(rows[0].balance), 'A balance') : 0;
}

@Injectable()
export class LedgerService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
  ) {}

  /**
   * Creates the accounts that do not exist yet. Rows are written in ascending id order with
   * `ON DUPLICATE KEY UPDATE` rather than `INSERT IGNORE`: the latter takes a shared lock on an existing row, which
   * two transactions then both try to upgrade to exclusive (a deadlock); this takes the exclusive lock at once.
   */
  async ensureAccounts(em: EntityManager, ids: readonly string[]): Promise<void> {
    const specs = [...new Set(ids)].sort().map(accountSpec);
    if (!specs.length) return;
    const values = specs.map(() => '(?, ?, ?, ?, 0, ?)').join(', ');
    const params = specs.flatMap((s) => [s.id, s.kind, s.orgUnitId, s.taskId, s.mayGoNegative ? 1 : 0]);
    await em.query(
      `INSERT INTO accounts (id, kind, org_unit_id, task_id, balance_fen, may_go_negative) VALUES ${values} ` +
        'ON DUPLICATE KEY UPDATE id = id',
      params,
    );
  }

  /**
   * Applies postings atomically within `em`'s transaction and returns the entries written, in order.
   * Throws `AMOUNT_INVALID` for an amount that is not a positive safe integer ≤ 10^13, and `INSUFFICIENT_FUNDS`
   * (details `{accountId, balanceFen, requiredFen}`) when a non-external account would go negative; nothing is
   * written then.
   */
  async post(em: EntityManager, postings: readonly Posting[]): Promise<LedgerEntryEntity[]> {
    if (!postings.length) return [];
    for (const p of postings) {
      if (!Number.isSafeInteger(p.amountFen) || p.amountFen <= 0 || p.amountFen > MAX_POSTING_FEN) {
        throw new DomainError(LedgerErrorCode.AMOUNT_INVALID, 'An amount must be a positive integer number of fen', {
          amountFen: p.amountFen,
        });
      }
      if (p.from === p.to) throw new Error(`A posting cannot move money from ${p.from} to itself`);
      if (!POSTING_KINDS.includes(p.kind)) throw new Error(`Unknown posting kind ${String(p.kind)}`);
    }
    const locked = await this.lockAccounts(
      em,
      postings.flatMap((p) => [p.from, p.to]),
    );
    return this.postLocked(em, postings, locked);
  }

  /**
   * Creates the accounts that do not exist yet and locks them all, in ascending id order (two transactions locking
   * overlapping sets cannot deadlock on them): each id's balance, and whether it may go negative.
   */
  private async lockAccounts(
    em: EntityManager,
    accountIds: readonly string[],
  ): Promise<Map<string, { balance: bigint; external: boolean }>> {
    const ids = [...new Set(accountIds)].sort();
    await this.ensureAccounts(em, ids);
    const rows = (await em.query(
      `SELECT id, CAST(balance_fen AS CHAR) AS balance, may_go_negative AS mayGoNegative FROM accounts ` +
        `WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id FOR UPDATE`,
      ids,
    )) as { id: string; balance: string; mayGoNegative: number | boolean }[];
    return new Map(rows.map((r) => [r.id, { balance: BigInt(r.balance), external: Number(r.mayGoNegative) === 1 }]));
  }

  /** Applies validated postings to accounts `lockAccounts` returned (every account of every posting). */
  private async postLocked(
    em: EntityManager,
    postings: readonly Posting[],
    locked: Map<string, { balance: bigint; external: boolean }>,
  ): Promise<LedgerEntryEntity[]> {
    const ids = [...new Set(postings.flatMap((p) => [p.from, p.to]))].sort();
    const after = new Map(ids.map((id) => [id, locked.get(id)?.balance ?? 0n]));
    for (const p of postings) {
      const amount = BigInt(p.amountFen);
      after.set(p.from, (after.get(p.from) ?? 0n) - amount);
      after.set(p.to, (after.get(p.to) ?? 0n) + amount);
    }
    for (const id of ids) {
      const balance = after.get(id) ?? 0n;
      if (balance < 0n && !locked.get(id)?.external) {
        const was = locked.get(id)?.balance ?? 0n;
        throw new DomainError(LedgerErrorCode.INSUFFICIENT_FUNDS, `Account ${id} has insufficient funds`, {
          accountId: id,
          balanceFen: toSafeNumber(was, 'A balance'),
          requiredFen: toSafeNumber(was - balance, 'The amount required'),
        });
      }
      toSafeNumber(balance, `The balance of ${id}`);
    }
    // every changed balance in one statement
    const changed = ids.filter((id) => after.get(id) !== (locked.get(id)?.balance ?? 0n));
    if (changed.length) {
      await em.query(
        `UPDATE accounts SET balance_fen = CASE id ${changed.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE id IN (${changed.map(() => '?').join(', ')})`,
        [...changed.flatMap((id) => [id, String(after.get(id))]), ...changed],
      );
    }
    const createdAt = new Date();
    const repo = em.getRepository(LedgerEntryEntity);
    const entries: LedgerEntryEntity[] = [];
    for (const p of postings) {
      const entry = repo.create({
        debitAccount: p.to,
        creditAccount: p.from,
        amountFen: p.amountFen,
        kind: p.kind,
        taskId: p.taskId ?? null,
        actorUserId: p.actorUserId ?? null,
        payee: p.payee ?? null,
        note: p.note ?? null,
        createdAt,
      });
      entry.id = String((await insertRows(em, LedgerEntryEntity, [entry])).insertId);
      entries.push(entry);
    }
    return entries;
  }

  /**
   * Moves an account's whole balance (read under the row lock, so no concurrent posting can slip in between) to
   * another account, e.g. unspent escrow back to its funder on return or close. Returns the entry, or null when the
   * account is empty or does not exist.
   */
  async drain(em: EntityManager, posting: Omit<Posting, 'amountFen'>): Promise<LedgerEntryEntity | null> {
    if (posting.from === posting.to) throw new Error(`A posting cannot move money from ${posting.from} to itself`);
    const locked = await this.lockAccounts(em, [posting.from, posting.to]);
    const balance = locked.get(posting.from)?.balance ?? 0n;
    if (balance <= 0n) return null;
    const [entry] = await this.postLocked(em, [{ ...posting, amountFen: toSafeNumber(balance, 'A balance') }], locked);
    return entry;
  }

  /** An account's balance in fen; 0 for an account that does not exist yet. */
  async balance(accountId: string, em?: EntityManager): Promise<number> {
    return accountBalance(em ?? this.ds.manager, accountId);
  }

  /** Entries recorded against a task, oldest first, keyset-paged by id. */
  async entriesForTask(
    taskId: string,
    page: { limit: number; afterId?: string | null },
    em?: EntityManager,
  ): Promise<{ items: LedgerEntryEntity[]; nextAfterId: string | null }> {
    const qb = (em ?? this.ds.manager)
      .getRepository(LedgerEntryEntity)
      .createQueryBuilder('e')
      .where('e.task_id = :taskId', { taskId })
      .orderBy('e.id', 'ASC')
      .take(page.limit + 1);
    if (page.afterId) qb.andWhere('e.id > :afterId', { afterId: page.afterId });
    return this.pageOf(await qb.getMany(), page.limit);
  }

  private pageOf(rows: LedgerEntryEntity[], limit: number) {
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    return { items, nextAfterId: more ? String(items[items.length - 1].id) : null };
  }

  /** The sum over all accounts. An invariant: always 0. */
  async sumOfAllBalances(): Promise<number> {
    const [row] = (await this.ds.query(
      'SELECT CAST(COALESCE(SUM(balance_fen), 0) AS CHAR) AS total FROM accounts',
    )) as { total: string }[];
    return toSafeNumber(BigInt(row.total), 'The sum of balances');
  }

  /** Non-external accounts with a negative balance. An invariant: always empty. */
  async negativeNonExternal(): Promise<{ id: string; balanceFen: number }[]> {
    const rows = await this.ds
      .getRepository(AccountEntity)
      .createQueryBuilder('a')
      .where('a.balance_fen < 0')
      .andWhere('a.may_go_negative = 0')
      .orderBy('a.id', 'ASC')
      .getMany();
    return rows.map((a) => ({ id: a.id, balanceFen: a.balanceFen }));
  }

  /** An org unit's budget balance; the unit must be in the caller's subtree (else NOT_FOUND). */
  async orgBudget(principal: Principal, orgUnitId: string): Promise<{ orgUnitId: string; balanceFen: number }> {
    const unit = await this.org.getInScope(principal, orgUnitId);
    return { orgUnitId: unit.id, balanceFen: await this.balance(orgAccountId(unit.id)) };
  }

  /**
   * Credits an org unit's budget from the external appropriation account, in a transaction of its own.
   * Needs the budget:write permission and the unit in the caller's subtree.
   */
  async appropriate(
    principal: Principal,
    orgUnitId: string,
    amountFen: number,
    note: string | null,
  ): Promise<{ orgUnitId: string; balanceFen: number; entry: LedgerEntryEntity }> {
    if (!permissionsOf(principal.roles).has(Permission.BudgetWrite)) {
      throw new DomainError(ErrorCode.FORBIDDEN, `This action requires the ${Permission.BudgetWrite} permission`);
    }
    const unit = await this.org.getInScope(principal, orgUnitId);
    const account = orgAccountId(unit.id);
    return this.ds.transaction(async (em) => {
      const [entry] = await this.post(em, [
        {
          from: EXTERNAL_APPROPRIATION,
          to: account,
          amountFen,
          kind: 'appropriation',
          actorUserId: principal.userId,
          note,
        },
      ]);
      return { orgUnitId: unit.id, balanceFen: await this.balance(account, em), entry };
    });
  }
}

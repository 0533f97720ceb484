import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { DomainError, newId } from '@gridflow/common';
import {
  EXTERNAL_APPROPRIATION,
  EXTERNAL_EXPENSE,
  LedgerService,
  OrgDirectory,
  orgAccountId,
  taskAccountId,
  type Posting,
} from '@gridflow/domain';
import { createDataSource, seedDemoDistrict } from '@gridflow/persistence';

describe('ledger (integration, real MariaDB)', () => {
  let ds: DataSource;
  let ledger: LedgerService;

  const post = (postings: Posting[]) => ds.transaction((em) => ledger.post(em, postings));
  const entryCount = async () =>
    Number(((await ds.query('SELECT COUNT(*) AS n FROM ledger_entries')) as { n: string }[])[0].n);
  const accountExists = async (id: string) =>
    ((await ds.query('SELECT 1 FROM accounts WHERE id = ?', [id])) as unknown[]).length > 0;
  /** A fresh budget account holding `fen`, funded from the external appropriation account. */
  const fundedBudget = async (fen: number) => {
    const account = orgAccountId(newId());
    await post([{ from: EXTERNAL_APPROPRIATION, to: account, amountFen: fen, kind: 'appropriation', note: 'test' }]);
    return account;
  };
  const caught = async (p: Promise<unknown>): Promise<unknown> => {
    try {
      await p;
    } catch (e) {
      return e;
    }
    throw new Error('expected a rejection');
  };
  /** Sum of what an account received minus what it gave, over all its entries. */
  const netOfEntries = async (account: string) => {
    const [row] = (await ds.query(
      'SELECT CAST(COALESCE(SUM(CASE WHEN debit_account = ? THEN amount_fen ELSE -amount_fen END), 0) AS CHAR) AS net ' +
        'FROM ledger_entries WHERE debit_account = ? OR credit_account = ?',
      [account, account, account],
    )) as { net: string }[];
    return Number(row.net);
  };

  beforeAll(async () => {
    ds = createDataSource({ url: process.env.DATABASE_URL as string, poolSize: 110 });
    await ds.initialize();
    ledger = new LedgerService(ds, new OrgDirectory(ds));
  });
  afterAll(async () => {
    expect(await ledger.sumOfAllBalances()).toBe(0);
    expect(await ledger.negativeNonExternal()).toEqual([]);
    await ds.destroy();
  });

  it('postings move money between accounts, are recorded as immutable entries, and keep the sum at 0', async () => {
    const budget = await fundedBudget(1000);
    const taskId = newId();
    const escrow = taskAccountId(taskId);
    const before = await ledger.balance(EXTERNAL_EXPENSE);

    const entries = await post([
      { from: budget, to: escrow, amountFen: 300, kind: 'funding', taskId, actorUserId: null, note: '经费随事转' },
      {
        from: escrow,
        to: EXTERNAL_EXPENSE,
        amountFen: 120,
        kind: 'expense',
        taskId,
        payee: '某绿化公司',
        note: '苗木',
      },
    ]);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual(
      expect.objectContaining({ debitAccount: escrow, creditAccount: budget, amountFen: 300, kind: 'funding', taskId }),
    );
    expect(entries[1]).toEqual(
      expect.objectContaining({
        debitAccount: EXTERNAL_EXPENSE,
        creditAccount: escrow,
        amountFen: 120,
        kind: 'expense',
        payee: '某绿化公司',
      }),
    );
    expect(BigInt(entries[1].id)).toBeGreaterThan(BigInt(entries[0].id));

    expect(await ledger.balance(budget)).toBe(700);
    expect(await ledger.balance(escrow)).toBe(180);
    expect((await ledger.balance(EXTERNAL_EXPENSE)) - before).toBe(120);
    expect(await ledger.balance(taskAccountId(newId()))).toBe(0);
    expect(await netOfEntries(escrow)).toBe(180);
    expect(await ledger.sumOfAllBalances()).toBe(0);
    expect(await ledger.negativeNonExternal()).toEqual([]);

    const [row] = (await ds.query('SELECT kind, task_id, may_go_negative FROM accounts WHERE id = ?', [escrow])) as {
      kind: string;
      task_id: string;
      may_go_negative: number;
    }[];
    expect(row).toEqual({ kind: 'escrow', task_id: taskId, may_go_negative: 0 });

    // entries of a task, keyset-paged by id
    const page1 = await ledger.entriesForTask(taskId, { limit: 1 });
    expect(page1.items.map((e) => e.amountFen)).toEqual([300]);
    expect(page1.nextAfterId).toBe(String(entries[0].id));
    const page2 = await ledger.entriesForTask(taskId, { limit: 1, afterId: page1.nextAfterId });
    expect(page2.items.map((e) => e.amountFen)).toEqual([120]);
    expect(page2.nextAfterId).toBeNull();
  });

  it('INSUFFICIENT_FUNDS refuses the whole batch: balances unchanged, nothing written', async () => {
    const budget = await fundedBudget(100);
    const taskA = taskAccountId(newId());
    const taskB = taskAccountId(newId());
    const entriesBefore = await entryCount();
    const err = await caught(
      post([
        { from: budget, to: taskA, amountFen: 60, kind: 'funding' },
        { from: budget, to: taskB, amountFen: 60, kind: 'funding' },
      ]),
    );
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('INSUFFICIENT_FUNDS');
    expect((err as DomainError).details).toEqual({ accountId: budget, balanceFen: 100, requiredFen: 120 });
    expect(await ledger.balance(budget)).toBe(100);
    expect(await entryCount()).toBe(entriesBefore);
    expect(await accountExists(taskA)).toBe(false);
    expect(await ledger.sumOfAllBalances()).toBe(0);

    // an overdraft covered by money arriving in the same batch is fine; only the net result counts
    await post([
      { from: taskA, to: taskB, amountFen: 10, kind: 'funding' },
      { from: budget, to: taskA, amountFen: 10, kind: 'funding' },
    ]);
    expect([await ledger.balance(budget), await ledger.balance(taskA), await ledger.balance(taskB)]).toEqual([
      90, 0, 10,
    ]);
  });

  it('refuses amounts that are not positive safe integers (AMOUNT_INVALID) and writes nothing', async () => {
    const budget = await fundedBudget(1000);
    const entriesBefore = await entryCount();
    for (const amountFen of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 10_000_000_000_001]) {
      const err = await caught(post([{ from: budget, to: taskAccountId(newId()), amountFen, kind: 'funding' }]));
      expect((err as DomainError).code).toBe('AMOUNT_INVALID');
    }
    expect(await ledger.balance(budget)).toBe(1000);
    expect(await entryCount()).toBe(entriesBefore);
  });

  it('100 concurrent postings against one account: exactly floor(500/7) succeed, no deadlock, no overdraft', async () => {
    const budget = await fundedBudget(500);
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        post([{ from: budget, to: taskAccountId(newId()), amountFen: 7, kind: 'funding' }]),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));
    expect(failures.map((e) => e.code).filter((c) => c !== 'INSUFFICIENT_FUNDS')).toEqual([]);
    expect(ok).toHaveLength(Math.floor(500 / 7));
    expect(failures).toHaveLength(100 - 71);
    expect(await ledger.balance(budget)).toBe(500 - 71 * 7);
    expect(await netOfEntries(budget)).toBe(500 - 71 * 7);
    expect(await ledger.sumOfAllBalances()).toBe(0);
    expect(await ledger.negativeNonExternal()).toEqual([]);
  });

  it('concurrent transfers in opposite directions between two accounts never deadlock (sorted locking)', async () => {
    const a = await fundedBudget(10_000);
    const b = await fundedBudget(10_000);
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        post(
          i % 2 === 0
            ? [{ from: a, to: b, amountFen: 11, kind: 'funding' }]
            : [{ from: b, to: a, amountFen: 13, kind: 'funding' }],
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([]);
    expect(await ledger.balance(a)).toBe(10_000 - 30 * 11 + 30 * 13);
    expect(await ledger.balance(b)).toBe(10_000 + 30 * 11 - 30 * 13);
  });

  it('many transactions creating the same new account at once all succeed (no lock-upgrade deadlock)', async () => {
    const budget = orgAccountId(newId());
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () =>
        post([{ from: EXTERNAL_APPROPRIATION, to: budget, amountFen: 25, kind: 'appropriation' }]),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([]);
    expect(await ledger.balance(budget)).toBe(40 * 25);
    expect(await netOfEntries(budget)).toBe(40 * 25);
  });

  it('drain() moves a whole balance read under the lock, and is a no-op on an empty account', async () => {
    const budget = await fundedBudget(900);
    const taskId = newId();
    const escrow = taskAccountId(taskId);
    await post([{ from: budget, to: escrow, amountFen: 400, kind: 'funding', taskId }]);
    // concurrent spending and draining of one escrow: every fen ends up in exactly one place
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, () =>
        post([{ from: escrow, to: EXTERNAL_EXPENSE, amountFen: 30, kind: 'expense', taskId }]),
      ),
      ds.transaction((em) => ledger.drain(em, { from: escrow, to: budget, kind: 'refund', taskId })),
    ]);
    const spent = results.slice(0, 10).filter((r) => r.status === 'fulfilled').length * 30;
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : []));
    expect(rejected.every((c) => c === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(await ledger.balance(escrow)).toBe(0);
    expect(await ledger.balance(budget)).toBe(900 - spent);
    expect(await ds.transaction((em) => ledger.drain(em, { from: escrow, to: budget, kind: 'refund' }))).toBeNull();
  });

  it('appropriate() credits a unit in scope, refuses one outside it, and refuses non-admins', async () => {
    const [sq1] = (await ds.query("SELECT id, path FROM org_units WHERE code = 'xh-jd1-sq1'")) as {
      id: string;
      path: string;
    }[];
    const [jd2] = (await ds.query("SELECT id, path FROM org_units WHERE code = 'xh-jd2'")) as {
      id: string;
      path: string;
    }[];
    const [jd1] = (await ds.query("SELECT id, path FROM org_units WHERE code = 'xh-jd1'")) as {
      id: string;
      path: string;
    }[];
    const streetAdmin = {
      userId: newId(),
      username: 'x',
      orgUnitId: jd1.id,
      orgUnitPath: jd1.path,
      roles: ['admin' as const],
    };
    const before = await ledger.balance(orgAccountId(sq1.id));
    const r = await ledger.appropriate(streetAdmin, sq1.id, 4321, '追加');
    expect(r.balanceFen).toBe(before + 4321);
    expect(r.entry).toEqual(
      expect.objectContaining({
        debitAccount: orgAccountId(sq1.id),
        creditAccount: EXTERNAL_APPROPRIATION,
        amountFen: 4321,
        kind: 'appropriation',
        actorUserId: streetAdmin.userId,
      }),
    );
    expect(((await caught(ledger.appropriate(streetAdmin, jd2.id, 1, 'x'))) as DomainError).code).toBe('NOT_FOUND');
    const leader = { ...streetAdmin, roles: ['leader' as const] };
    expect(((await caught(ledger.appropriate(leader, sq1.id, 1, 'x'))) as DomainError).code).toBe('FORBIDDEN');
    expect(await ledger.balance(orgAccountId(sq1.id))).toBe(before + 4321);
  });

  it('the seed posts each opening budget exactly once: a second run changes no balance and writes no entry', async () => {
    const { budgets } = JSON.parse(readFileSync(resolve(process.cwd(), 'config/seed/budgets.json'), 'utf8')) as {
      budgets: { orgUnitCode: string; amountFen: number; note: string }[];
    };
    const snapshot = async () =>
      (await ds.query('SELECT id, CAST(balance_fen AS CHAR) AS b FROM accounts ORDER BY id')) as {
        id: string;
        b: string;
      }[];
    const balancesBefore = await snapshot();
    const entriesBefore = await entryCount();

    const report = await seedDemoDistrict(ds, {
      configDir: resolve(process.cwd(), 'config'),
      demoPassword: process.env.DEMO_PASSWORD as string,
      passwordLog2N: 12,
    });
    expect(report).toEqual({
      orgUnitsCreated: 0,
      usersCreated: 0,
      powersCreated: 0,
      categoriesCreated: 0,
      dutiesCreated: 0,
      budgetsPosted: 0,
    });
    expect(await snapshot()).toEqual(balancesBefore);
    expect(await entryCount()).toBe(entriesBefore);

    // each budget unit got exactly one opening appropriation, as budgets.json says
    for (const b of budgets) {
      const rows = (await ds.query(
        'SELECT e.amount_fen AS amount, e.note FROM ledger_entries e JOIN org_units u ON e.debit_account = CONCAT(?, u.id) ' +
          "WHERE u.code = ? AND e.kind = 'appropriation' AND e.credit_account = ? AND e.actor_user_id IS NULL",
        ['org-', b.orgUnitCode, EXTERNAL_APPROPRIATION],
      )) as { amount: string; note: string }[];
      expect(rows.map((r) => ({ amount: Number(r.amount), note: r.note }))).toEqual([
        { amount: b.amountFen, note: b.note },
      ]);
    }
    expect(await ledger.sumOfAllBalances()).toBe(0);
  });
});

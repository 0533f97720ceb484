import { expect } from '@jest/globals';
import type { TestApp, Session } from './app.js';

/** Money is conserved (sum over all accounts is zero), no internal balance is negative. */
export async function expectLedgerInvariants(t: TestApp): Promise<void> {
  const [{ total }] = (await t.ds.query('SELECT CAST(COALESCE(SUM(balance_fen), 0) AS CHAR) AS total FROM accounts')) as { total: string }[];
  expect(total).toBe('0');
  const negative = (await t.ds.query("SELECT id, balance_fen FROM accounts WHERE balance_fen < 0 AND kind <> 'external'")) as unknown[];
  expect(negative).toEqual([]);
  // each balance equals its postings
  const drift = (await t.ds.query(
    `SELECT a.id FROM accounts a
       LEFT JOIN (SELECT debit_account AS id, SUM(amount_fen) AS s FROM ledger_entries GROUP BY debit_account) d ON d.id = a.id
       LEFT JOIN (SELECT credit_account AS id, SUM(amount_fen) AS s FROM ledger_entries GROUP BY credit_account) c ON c.id = a.id
      WHERE a.balance_fen <> COALESCE(d.s, 0) - COALESCE(c.s, 0)`,
  )) as unknown[];
  expect(drift).toEqual([]);
}

/** Tasks whose row's chain head (last_event_seq, last_event_hash) is not their last event. */
export async function headsOffTheTail(t: TestApp, taskIds: string[]): Promise<unknown[]> {
  if (!taskIds.length) return [];
  return (await t.ds.query(
    `SELECT t.id, t.last_event_seq, t.last_event_hash, e.seq, e.hash
       FROM tasks t
       JOIN task_events e ON e.task_id = t.id AND e.seq = (SELECT MAX(seq) FROM task_events WHERE task_id = t.id)
      WHERE t.id IN (${taskIds.map(() => '?').join(', ')})
        AND NOT (t.last_event_seq <=> e.seq AND t.last_event_hash <=> e.hash)`,
    taskIds,
  )) as unknown[];
}

/** Every event chain of the given tasks verifies through the API, and each task row's head is its last event. */
export async function expectChainsVerify(t: TestApp, s: Session, taskIds: string[]): Promise<void> {
  for (const id of taskIds) {
    const res = await t.http().get(`/api/v1/tasks/${id}/events/verify`).set(s.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ valid: true }));
  }
  expect(await headsOffTheTail(t, taskIds)).toEqual([]);
}

import type { DataSource, EntityManager } from 'typeorm';

/** How many times a task transaction runs before a deadlock reaches the caller as an error. */
export const DEADLOCK_ATTEMPTS = 4;

/** InnoDB chose the transaction as a deadlock victim and rolled it back whole (ER_LOCK_DEADLOCK, 1213). */
export function isDeadlock(e: unknown): boolean {
  const err = e as { code?: string; errno?: number } | null;
  return err?.code === 'ER_LOCK_DEADLOCK' || err?.errno === 1213;
}

/**
 * Runs `work` in a transaction and, when InnoDB rolls it back as a deadlock victim, runs it again from the start
 * (after a short, growing, jittered pause), so two users acting at the same moment both succeed instead of one of
 * them seeing a 500. Safe because every effect of a task transaction — rows, ledger postings, outbox messages — is
 * inside the transaction: a victim left nothing behind. `work` must not keep state between attempts.
 */
export async function transactionWithRetry<T>(ds: DataSource, work: (em: EntityManager) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ds.transaction(work);
    } catch (e) {
      if (!isDeadlock(e) || attempt >= DEADLOCK_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, attempt * 5 + Math.random() * 10 * attempt));
    }
  }
}

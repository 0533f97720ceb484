import { describe, expect, it } from '@jest/globals';
import type { DataSource, EntityManager } from 'typeorm';
import { DEADLOCK_ATTEMPTS, isDeadlock, transactionWithRetry } from './transaction-retry.js';

const deadlock = () => Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { code: 'ER_LOCK_DEADLOCK', errno: 1213 });

/** A data source whose transactions fail with `failures` errors first, then run the work. */
function dataSource(failures: Error[]): { ds: DataSource; runs: () => number } {
  let runs = 0;
  const ds = {
    transaction: async <T>(work: (em: EntityManager) => Promise<T>): Promise<T> => {
      runs++;
      const failure = failures.shift();
      if (failure) throw failure;
      return work({} as EntityManager);
    },
  } as unknown as DataSource;
  return { ds, runs: () => runs };
}

describe('task transactions retried on deadlock', () => {
  it('recognises InnoDB deadlock victims by code or errno, nothing else', () => {
    expect(isDeadlock(deadlock())).toBe(true);
    expect(isDeadlock({ errno: 1213 })).toBe(true);
    expect(isDeadlock(Object.assign(new Error('Lock wait timeout exceeded'), { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }))).toBe(false);
    expect(isDeadlock(new Error('boom'))).toBe(false);
    expect(isDeadlock(null)).toBe(false);
  });

  it('runs the whole transaction again after a deadlock and returns its result', async () => {
    const { ds, runs } = dataSource([deadlock(), deadlock()]);
    await expect(transactionWithRetry(ds, async () => 'done')).resolves.toBe('done');
    expect(runs()).toBe(3);
  });

  it(`gives up after ${DEADLOCK_ATTEMPTS} deadlocks in a row, with the database's error`, async () => {
    const { ds, runs } = dataSource(Array.from({ length: DEADLOCK_ATTEMPTS + 1 }, deadlock));
    await expect(transactionWithRetry(ds, async () => 'done')).rejects.toMatchObject({ code: 'ER_LOCK_DEADLOCK' });
    expect(runs()).toBe(DEADLOCK_ATTEMPTS);
  });

  it('does not retry other failures', async () => {
    const refused = Object.assign(new Error('insufficient funds'), { code: 'INSUFFICIENT_FUNDS' });
    const { ds, runs } = dataSource([refused]);
    await expect(transactionWithRetry(ds, async () => 'done')).rejects.toBe(refused);
    expect(runs()).toBe(1);
  });
});

import { describe, expect, it } from '@jest/globals';
import type { FireOutcome } from '@gridflow/domain';
import { FireBatcher } from './fire-batcher.js';

const fired: FireOutcome = { kind: 'fired', timer: 'remind', notified: 1 };

describe('FireBatcher', () => {
  it('fires rows submitted together in one call, and splits at maxSize', async () => {
    const calls: string[][] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 3, maxWaitMs: 5 },
    );
    const outcomes = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => batcher.submit(id)));
    expect(outcomes).toEqual([fired, fired, fired, fired, fired]);
    expect(calls).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('retries the rows of a failed batch one by one, so one bad row fails only its own job', async () => {
    const calls: string[][] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        if (ids.includes('bad')) throw new Error('deadlock');
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 10, maxWaitMs: 1 },
    );
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((id) => batcher.submit(id)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('rejects a row its batch did not answer for', async () => {
    const batcher = new FireBatcher(async () => new Map<string, FireOutcome>(), { maxSize: 10, maxWaitMs: 1 });
    await expect(batcher.submit('x')).rejects.toThrow('was not fired');
  });
});

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { DataSource, EntityManager } from 'typeorm';
import { WorkflowCatalog } from './workflow-catalog.service.js';

const handoff = JSON.parse(readFileSync(resolve(process.cwd(), 'config/workflows/handoff.json'), 'utf8')) as {
  key: string;
};

/** An entity manager whose version reads are counted and answered after a turn of the event loop. */
function versionsStore(fail: () => boolean) {
  const reads: unknown[] = [];
  const em = {
    getRepository: () => ({
      findOneBy: async (where: unknown) => {
        reads.push(where);
        await new Promise((r) => setImmediate(r));
        if (fail()) throw new Error('connection lost');
        return { definition: handoff, hash: 'h1', deprecated: false };
      },
    }),
  } as unknown as EntityManager;
  return { em, reads };
}

describe('WorkflowCatalog.version', () => {
  it('reads and compiles a version once for callers that miss the cache together', async () => {
    const { em, reads } = versionsStore(() => false);
    const catalog = new WorkflowCatalog({ manager: em } as unknown as DataSource);
    const got = await Promise.all([1, 2, 3, 4].map(() => catalog.version(handoff.key, 1, em)));
    expect(reads).toEqual([{ key: handoff.key, version: 1 }]);
    expect(new Set(got).size).toBe(1);
    expect(got[0]).toMatchObject({ key: handoff.key, version: 1, hash: 'h1' });
    // later callers are answered from the cache
    expect(await catalog.version(handoff.key, 1, em)).toBe(got[0]);
    expect(reads).toHaveLength(1);
  });

  it('lets a caller inside a transaction join only a read that runs on a connection already held', async () => {
    const { em: pool, reads } = versionsStore(() => false);
    const inTransaction = (n: number) =>
      ({ ...pool, getRepository: pool.getRepository, queryRunner: { n } }) as unknown as EntityManager;
    const catalog = new WorkflowCatalog({ manager: pool } as unknown as DataSource);
    // a read on the pool's manager may still wait for a free connection: the transactions read on their own
    // connections (two reads for the three callers: the two in transactions share the first one's)
    await Promise.all([
      catalog.version(handoff.key, 1, pool),
      catalog.version(handoff.key, 1, inTransaction(1)),
      catalog.version(handoff.key, 1, inTransaction(2)),
    ]);
    expect(reads).toHaveLength(2);
    // a read inside a transaction runs on the connection its caller holds: every later caller joins it
    await Promise.all([
      catalog.version(handoff.key, 2, inTransaction(3)),
      catalog.version(handoff.key, 2, pool),
      catalog.version(handoff.key, 2, inTransaction(4)),
    ]);
    expect(reads).toHaveLength(3);
  });

  it('does not keep a failed read: the next caller reads again', async () => {
    let failing = true;
    const { em, reads } = versionsStore(() => failing);
    const catalog = new WorkflowCatalog({ manager: em } as unknown as DataSource);
    const both = await Promise.allSettled([catalog.version(handoff.key, 1, em), catalog.version(handoff.key, 1, em)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(reads).toHaveLength(1);
    failing = false;
    expect(await catalog.version(handoff.key, 1, em)).toMatchObject({ version: 1 });
    expect(reads).toHaveLength(2);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import {
  cachePromiseWrappers,
  createDataSource,
  hydrate,
  insertRows,
  migrate,
  OutboxEntity,
  schemaDrift,
  seedDemoDistrict,
  selectList,
  updateById,
} from '@gridflow/persistence';

describe('schema and seed (integration, real MariaDB)', () => {
  let ds: DataSource;
  const url = () => process.env.DATABASE_URL as string;

  beforeAll(async () => {
    ds = createDataSource({ url: url(), poolSize: 4 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
  });

  it('rows written and read by hand-written SQL (raw-rows) are the rows TypeORM writes and reads', async () => {
    const em = ds.manager;
    const payload = { taskId: 'a', note: '已完成主要路段清扫', nested: { n: 1, list: [true, null] } };
    const res = await insertRows(em, OutboxEntity, [
      { jobName: 'notify', aggregateId: null, payload, correlationId: 'c-1' },
      { jobName: 'roll-up', payload: { taskId: 'b' } },
    ]);
    const firstId = String(res.insertId);
    try {
      const byOrm = await em
        .getRepository(OutboxEntity)
        .find({ where: [{ id: firstId }, { id: String(BigInt(firstId) + 1n) }], order: { id: 'ASC' } });
      expect(byOrm.map((r) => [r.jobName, r.aggregateId, r.payload, r.correlationId, r.sentAt, r.attempts])).toEqual([
        ['notify', null, payload, 'c-1', null, 0],
        ['roll-up', null, { taskId: 'b' }, null, null, 0],
      ]);
      expect(byOrm[0].createdAt).toBeInstanceOf(Date);

      const sentAt = new Date('2026-12-03T08:00:00.123Z');
      await updateById(em, OutboxEntity, firstId, { sentAt, attempts: 2, lastError: null });
      const rows = (await em.query(
        `SELECT ${selectList(em, OutboxEntity, 'o')} FROM outbox o WHERE o.id IN (?, ?) ORDER BY o.id`,
        [firstId, String(BigInt(firstId) + 1n)],
      )) as Record<string, unknown>[];
      const hydrated = rows.map((r) => hydrate(em, OutboxEntity, r, 'o'));
      const again = await em
        .getRepository(OutboxEntity)
        .find({ where: [{ id: firstId }, { id: String(BigInt(firstId) + 1n) }], order: { id: 'ASC' } });
      expect(hydrated).toEqual(again);
      expect([hydrated[0]?.sentAt?.toISOString(), hydrated[0]?.attempts]).toEqual(['2026-12-03T08:00:00.123Z', 2]);
      expect(hydrate(em, OutboxEntity, { o__id: null }, 'o')).toBeNull();
    } finally {
      await em.query('DELETE FROM outbox WHERE id IN (?, ?)', [firstId, String(BigInt(firstId) + 1n)]);
    }
  });

  it('a pooled connection makes its promise wrapper once, and statements run through it', async () => {
    expect(cachePromiseWrappers()).toBe(true);
    const runner = ds.createQueryRunner();
    try {
      // the connection TypeORM's query runner holds: TypeORM calls promise() on it for every statement
      const connection = (await runner.connect()) as { promise(): { query(sql: string): Promise<[unknown[], unknown]> } };
      const wrapper = connection.promise();
      expect(connection.promise()).toBe(wrapper);
      const [rows] = await wrapper.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
      expect(await runner.query('SELECT ? AS two', [2])).toEqual([{ two: 2 }]);
    } finally {
      await runner.release();
    }
  });

  it('the entities and the migrations agree (no drift)', async () => {
    expect(await schemaDrift(ds)).toEqual([]);
  });

  it('concurrent migrators serialise on the lock and find nothing left to do', async () => {
    const results = await Promise.all([migrate({ url: url() }), migrate({ url: url() }), migrate({ url: url() })]);
    expect(results).toEqual([[], [], []]);
    const [{ n }] = (await ds.query('SELECT COUNT(*) AS n FROM migrations')) as { n: number }[];
    expect(Number(n)).toBeGreaterThanOrEqual(1);
  });

  it('a fresh database is created and migrated from nothing, twice at once', async () => {
    const fresh = url().replace(/\/([A-Za-z0-9_]+)$/, '/$1_fresh');
    try {
      const [a, b] = await Promise.all([migrate({ url: fresh }), migrate({ url: fresh })]);
      // exactly one of the two applied the migrations
      expect([a.length, b.length].sort()).toEqual([0, expect.any(Number)].sort());
      expect(a.length + b.length).toBeGreaterThan(0);
      expect(Math.min(a.length, b.length)).toBe(0);
    } finally {
      await ds.query(`DROP DATABASE IF EXISTS \`${fresh.split('/').pop()}\``);
    }
  });

  it('the demo seed is idempotent and builds the district described in DESIGN', async () => {
    const again = await seedDemoDistrict(ds, {
      configDir: resolve(process.cwd(), 'config'),
      demoPassword: process.env.DEMO_PASSWORD as string,
      passwordLog2N: 12,
    });
    expect(again).toEqual(expect.objectContaining({ orgUnitsCreated: 0, usersCreated: 0 }));
    const kinds = (await ds.query(
      "SELECT kind, COUNT(*) AS n FROM org_units WHERE code LIKE 'xh%' AND code NOT LIKE 'xh-jd2-sq4%' GROUP BY kind ORDER BY kind",
    )) as { kind: string; n: number }[];
    expect(Object.fromEntries(kinds.map((k) => [k.kind, Number(k.n)]))).toEqual(
      expect.objectContaining({ district: 1, street: 2, community: 6, grid: 18 }),
    );
    const [{ n: depts }] = (await ds.query("SELECT COUNT(*) AS n FROM org_units WHERE kind = 'department'")) as {
      n: number;
    }[];
    expect(Number(depts)).toBeGreaterThanOrEqual(6);
    const [admin] = (await ds.query("SELECT roles, password_hash FROM users WHERE username = 'admin'")) as {
      roles: string;
      password_hash: string;
    }[];
    expect(admin.roles).toBe('admin');
    expect(admin.password_hash).toMatch(/^scrypt\$/);
    // every unit's path is its parent's path plus its own id
    const bad = (await ds.query(
      "SELECT c.code FROM org_units c JOIN org_units p ON p.id = c.parent_id WHERE c.path <> CONCAT(p.path, c.id, '/')",
    )) as unknown[];
    expect(bad).toEqual([]);
  });
});

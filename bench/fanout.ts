/**
 * Fan-out: one community hands a sanitation task to N grids (its own duty, so no grants) in one request.
 * Reports the time until the children exist (the HTTP response), until every child's notifications are delivered,
 * and until the parent's roll-up shows all N children — with the API and a worker in this process, on the real
 * MariaDB and Redis of the bench database. Also when the outbox relay sent the handoff's first and last outbox rows
 * (timers, notices, roll-up) to the queues, counted from the last of them written, just before the handoff committed
 * (both on MariaDB's clock). And what the relay's loop did meanwhile — its longest step, its longest pause, its failed
 * steps — from the parent task's creation until the last row went out: in some full runs the relay sent nothing for
 * about ten seconds, and these figures say whether a pass hung (and on what) or no pass ran.
 */
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { newId } from '../libs/common/src/index.js';
import { AppModule } from '../apps/api/src/app.module.js';
import { configureApp } from '../apps/api/src/configure-app.js';
import { OutboxRelay } from '../apps/worker/src/outbox/outbox-relay.service.js';
import { WorkerModule } from '../apps/worker/src/worker.module.js';
import type { BenchFigure } from './report.js';

/** One step of the relay's loop: a pass (`relayOnce`) or its check that Redis kept its data (`checkRedisData`). */
interface RelayStep {
  step: 'pass' | 'data check';
  start: number;
  end: number;
  rows?: number;
  error?: string;
}

/** Records every step of the relay's loop (the relay of this process's worker) from now on. */
function watchRelay(relay: OutboxRelay): RelayStep[] {
  const steps: RelayStep[] = [];
  const wrap = <A extends unknown[], R>(step: RelayStep['step'], fn: (...a: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const s: RelayStep = { step, start: performance.now(), end: NaN };
      steps.push(s);
      try {
        const r = await fn(...args);
        if (typeof r === 'number') s.rows = r;
        return r;
      } catch (e) {
        s.error = (e as Error).message.slice(0, 120);
        throw e;
      } finally {
        s.end = performance.now();
      }
    };
  relay.relayOnce = wrap('pass', relay.relayOnce.bind(relay));
  relay.checkRedisData = wrap('data check', relay.checkRedisData.bind(relay));
  return steps;
}

/**
 * The relay's loop between `from` and `to` (performance.now()): its longest step (one still running counts until
 * now), its longest pause (the stretch before its first step and after its last included) and its failed steps.
 */
function relayFigures(steps: readonly RelayStep[], from: number, to: number, label: string): BenchFigure[] {
  const now = performance.now();
  const endOf = (s: RelayStep) => (Number.isNaN(s.end) ? now : s.end);
  const within = steps.filter((s) => endOf(s) >= from && s.start <= to);
  const longest = within.reduce<RelayStep | null>((a, s) => (!a || endOf(s) - s.start > endOf(a) - a.start ? s : a), null);
  const edges = [from, ...within.flatMap((s) => [s.start, endOf(s)]), to];
  let pause = 0;
  for (let i = 0; i + 1 < edges.length; i += 2) pause = Math.max(pause, edges[i + 1] - edges[i]);
  const failed = within.filter((s) => s.error);
  const what = longest
    ? `${longest.step}${longest.rows !== undefined ? `, ${longest.rows} rows` : ''}${longest.error ? `, failed: ${longest.error}` : ''}${Number.isNaN(longest.end) ? ', still running' : ''}, from ${Math.round(longest.start - from)} ms`
    : 'none ran';
  return [
    { name: `${label}: the relay's longest step since the parent task was created (${what})`, value: longest ? Math.round(endOf(longest) - longest.start) : NaN, unit: 'ms' },
    { name: `${label}: the relay's longest pause between two steps (${within.length} steps)`, value: Math.round(pause), unit: 'ms' },
    { name: `${label}: relay steps that failed${failed.length ? ` (first: ${failed[0].step}, ${failed[0].error})` : ''}`, value: failed.length, unit: 'steps' },
  ];
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}

/** A bench community with `n` grids under the seeded street xh-jd2, its leader, and its grid workers. */
async function buildCommunity(ds: DataSource, n: number, password: string): Promise<{ communityId: string; leader: string }> {
  const [street] = (await ds.query("SELECT id, path FROM org_units WHERE code = 'xh-jd2'")) as { id: string; path: string }[];
  const code = `bench-sq-${Date.now().toString(36)}`;
  const communityId = newId();
  const cPath = `${street.path}${communityId}/`;
  await ds.query('INSERT INTO org_units (id, code, name, kind, parent_id, path, depth) VALUES (?, ?, ?, ?, ?, ?, ?)', [communityId, code, '压测社区', 'community', street.id, cPath, 2]);
  const [{ password_hash }] = (await ds.query("SELECT password_hash FROM users WHERE username = 'xh-jd2-sq1-leader'")) as { password_hash: string }[];
  const leader = `${code}-leader`;
  await ds.query('INSERT INTO users (id, username, display_name, org_unit_id, roles, password_hash) VALUES (?, ?, ?, ?, ?, ?)', [newId(), leader, '压测社区书记', communityId, 'leader', password_hash]);
  for (let i = 0; i < n; i += 500) {
    const rows: unknown[] = [];
    const users: unknown[] = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      const id = newId();
      rows.push(id, `${code}-wg${j}`, `压测网格${j}`, 'grid', communityId, `${cPath}${id}/`, 3);
      users.push(newId(), `${code}-wg${j}-worker`, `网格员${j}`, id, 'grid_worker', password_hash);
    }
    const k = rows.length / 7;
    await ds.query(`INSERT INTO org_units (id, code, name, kind, parent_id, path, depth) VALUES ${Array(k).fill('(?, ?, ?, ?, ?, ?, ?)').join(',')}`, rows);
    await ds.query(`INSERT INTO users (id, username, display_name, org_unit_id, roles, password_hash) VALUES ${Array(k).fill('(?, ?, ?, ?, ?, ?)').join(',')}`, users);
  }
  // an opening budget for the bench community, from the appropriation account
  await ds.query("INSERT INTO accounts (id, kind, org_unit_id, balance_fen) VALUES (?, 'budget', ?, ?)", [`org-${communityId}`, communityId, n * 1000]);
  await ds.query("UPDATE accounts SET balance_fen = balance_fen - ? WHERE id = 'external-appropriation'", [n * 1000]);
  await ds.query("INSERT INTO ledger_entries (debit_account, credit_account, amount_fen, kind, note) VALUES (?, 'external-appropriation', ?, 'appropriation', 'bench')", [`org-${communityId}`, n * 1000]);
  void password;
  return { communityId, leader };
}

export async function runFanout(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const n = opts.quick ? 500 : 3000;
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger: ['error'] });
  configureApp(app);
  await app.init();
  const worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
  await worker.init();
  const steps = watchRelay(worker.get(OutboxRelay));
  const ds = app.get<DataSource>(getDataSourceToken());
  const http = () => request(app.getHttpServer());
  try {
    const password = process.env.DEMO_PASSWORD ?? 'Gridflow@2026';
    const { communityId, leader } = await buildCommunity(ds, n, password);
    const login = await http().post('/api/v1/auth/login').send({ username: leader, password });
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    const due = new Date(Date.now() + 7 * 86400_000).toISOString();
    const parentAt = performance.now();
    const parent = await http().post('/api/v1/tasks').set(auth).send({ title: '全域环境卫生网格清洁', categoryCode: 'SANITATION_GRID_CLEANING', dueAt: due, fundingFen: n * 1000 });
    if (parent.status !== 201) throw new Error(`bench parent task: ${parent.status} ${JSON.stringify(parent.body)}`);
    const grids = (await ds.query('SELECT id FROM org_units WHERE parent_id = ? ORDER BY id', [communityId])) as { id: string }[];
    const body = { handoffs: grids.map((g) => ({ assigneeOrgUnitId: g.id, fundingFen: 1000, grants: [] })) };

    const [{ lastOutboxId }] = (await ds.query('SELECT COALESCE(MAX(id), 0) AS lastOutboxId FROM outbox')) as { lastOutboxId: string }[];
    const t0 = performance.now();
    const res = await http().post(`/api/v1/tasks/${parent.body.id}/handoffs`).set(auth).send(body);
    const created = performance.now() - t0;
    if (res.status !== 201) throw new Error(`bench handoff: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    const notified = await until(async () => {
      const [{ c }] = (await ds.query("SELECT COUNT(DISTINCT task_id) AS c FROM notifications WHERE template = 'task.assigned' AND task_id IN (SELECT id FROM tasks WHERE parent_id = ?)", [parent.body.id])) as { c: number }[];
      return Number(c) === n;
    }, 120_000);
    const settled = await until(async () => {
      const [row] = (await ds.query('SELECT children_total, children_open FROM tasks WHERE id = ?', [parent.body.id])) as { children_total: number; children_open: number }[];
      return Number(row.children_total) === n && Number(row.children_open) === n;
    }, 120_000);
    const all = Math.max(created, created + (notified ?? Infinity), created + (settled ?? Infinity));
    const target = 10_000;
    // the relay's share: when the handoff's outbox rows (timers, notices, roll-up) went out to the queues, counted
    // from the last of them written (just before the handoff committed), both on MariaDB's clock
    const [relay] = (await ds.query(
      `SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, MAX(created_at), MIN(sent_at)) / 1000 AS firstMs,
              TIMESTAMPDIFF(MICROSECOND, MAX(created_at), MAX(sent_at)) / 1000 AS lastMs
         FROM outbox WHERE id > ?`,
      [lastOutboxId],
    )) as { n: number; firstMs: string | number | null; lastMs: string | number | null }[];
    const ms = (v: string | number | null) => (v === null ? NaN : Math.round(Number(v)));
    // the relay's loop until the last row went out, on this process's clock: the handoff's response (a little after
    // its commit, which lastMs counts from) plus lastMs; with nothing sent, until now
    const lastMs = ms(relay.lastMs);
    const lastSentAt = Number.isNaN(lastMs) ? performance.now() : t0 + created + Math.max(0, lastMs);
    return [
      { name: `fan-out ${n}: children exist (handoff response)`, value: Math.round(created), unit: 'ms' },
      { name: `fan-out ${n}: all children notified`, value: Math.round(created + (notified ?? NaN)), unit: 'ms' },
      { name: `fan-out ${n}: roll-up settled`, value: Math.round(created + (settled ?? NaN)), unit: 'ms' },
      { name: `fan-out ${n}: everything done`, value: Math.round(all), unit: 'ms', ...(opts.quick ? {} : { target, met: all <= target }) },
      { name: `fan-out ${n}: the relay sent the first of the handoff's ${Number(relay.n)} outbox rows, after the last was written`, value: ms(relay.firstMs), unit: 'ms' },
      { name: `fan-out ${n}: the relay sent the last of them, after the last was written`, value: ms(relay.lastMs), unit: 'ms' },
      ...relayFigures(steps, parentAt, lastSentAt, `fan-out ${n}`),
    ];
  } finally {
    await worker.close();
    await app.close();
  }
}

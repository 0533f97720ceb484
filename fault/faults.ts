/**
 * The faults and how their recovery is measured.
 *
 * - Worker kill: `kill -9` of the worker, restarted at once (as a supervisor would). Recovery: from the kill until a
 *   progress report made just after it shows on the probe's parent (the new worker relayed and applied it).
 * - Redis: a restart that keeps the data (SHUTDOWN SAVE), a FLUSHALL, or a crash (kill -9; the new process loads the
 *   last snapshot if there is one — in the full run the one the clean restart wrote minutes earlier, so Redis comes
 *   back with old data) — with the service down for a few seconds where it restarts. Recovery: from Redis answering again until a progress report
 *   made then shows on the parent; and, when Redis lost its data, until every effect published before the loss is
 *   applied ("lost work redone"). Before a loss the effects queue is paused for 2 s, so that the loss always takes
 *   queued jobs with it (the backlog heavy load builds), not only the ones in flight.
 * - MariaDB: a crash (kill -9) or a clean restart, down for a few seconds. Recovery: from MariaDB answering again until
 *   a progress report (retried by the client until the API takes it) shows on the parent.
 * During each outage the API's answers are sampled (every request of the load, plus a read every 100 ms).
 */
import type { Pool } from 'mysql2/promise';
import type { ApiClient, Sample, Session } from './http.js';
import type { Probe } from './load.js';
import { type Managed, type PrivateMariaDb, type PrivateRedis, sleep, until } from './services.js';

export const TARGET_MS = { worker: 20_000, redis: 10_000, mariadb: 30_000 } as const;
/** During an outage the API must answer (503) at once rather than hang: p99 of its answers. */
export const OUTAGE_P99_TARGET_MS = 2_000;

export interface OutageStats {
  requests: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Wrong answers: any request that timed out or found the API unreachable, and any answer to the sampler's reads
   * (a task, /health) that is neither 2xx nor 503 — e.g. a 401 for a missing database. The load's writes are counted
   * in `statuses` but not judged here: their 409s and 500s come from the idempotency layer and lock conflicts, not
   * from how the API meets the outage.
   */
  unexpected: number;
  met: boolean;
}

export interface FaultResult {
  name: string;
  service: 'worker' | 'redis' | 'mariadb';
  /** When the fault was injected (ms since epoch). */
  at: number;
  /** How long the service was down (kill → restarted process, stop → answering again). */
  downMs: number;
  /** What the recovery time is measured from. */
  from: 'kill' | 'service back';
  /** Recovery time (null: not within the measuring deadline). */
  recoveryMs: number | null;
  targetMs: number;
  met: boolean;
  /** Outbox rows waiting to be relayed when the service came back. */
  backlog?: number;
  /**
   * When the fault lost queued work (Redis data, a killed worker's jobs): until all of it was applied. Measured in the
   * background while the run goes on; `pending` settles when it is known.
   */
  lostWorkRedoneMs?: number | null;
  /** Effect rows published to Redis but not applied when the fault struck (the work at risk). */
  lostWorkRows?: number;
  lostWorkTargetMs?: number;
  outage?: OutageStats;
}

export interface FaultContext {
  api: ApiClient;
  admin: Session;
  probe: Probe;
  db: Pool;
  worker: Managed;
  mariadb: PrivateMariaDb;
  redis: PrivateRedis;
  /** BullMQ's key prefix (`<REDIS_PREFIX>-bull`). */
  queuePrefix: string;
  /** How long a restarted service stays down. */
  downMs: number;
  /** How long recovery is waited for before it counts as missed. */
  measureMs: number;
  log: (msg: string) => void;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0;

/** The API's answers to requests started within [from, to]. */
export function outageStats(samples: Sample[], from: number, to: number): OutageStats {
  const inWindow = samples.filter((s) => s.at >= from && s.at <= to && s.route !== 'login');
  const ms = inWindow.map((s) => s.ms).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const s of inWindow) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  const unexpected = inWindow.filter(
    (s) => typeof s.status !== 'number' || (s.route.startsWith('outage:') && s.status >= 300 && s.status !== 503),
  ).length;
  const p99Ms = quantile(ms, 0.99);
  return {
    requests: inWindow.length,
    statuses,
    p50Ms: quantile(ms, 0.5),
    p99Ms,
    maxMs: ms[ms.length - 1] ?? 0,
    unexpected,
    met: inWindow.length > 0 && p99Ms <= OUTAGE_P99_TARGET_MS && unexpected === 0,
  };
}

/** Reads the probe's parent every 100 ms and /health every 500 ms while `active()` holds (outage sampling). */
async function sampleOutage(ctx: FaultContext, active: () => boolean): Promise<void> {
  let n = 0;
  while (active()) {
    const reads = [
      ctx.api.raw('GET', `/api/v1/tasks/${ctx.probe.parentId}`, {
        token: ctx.admin.token,
        route: 'outage:read',
        timeoutMs: 10_000,
      }),
    ];
    if (n++ % 5 === 0) reads.push(ctx.api.raw('GET', '/health', { route: 'outage:health', timeoutMs: 10_000 }));
    await Promise.race([Promise.all(reads), sleep(100)]);
    await sleep(100);
  }
}

async function scalar(db: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const [rows] = await db.query(sql, params);
  const row = (rows as Record<string, unknown>[])[0] ?? {};
  return Number(Object.values(row)[0] ?? 0);
}

/** The newest outbox id (0 while the database is down). */
const lastOutboxId = (db: Pool) => scalar(db, 'SELECT COALESCE(MAX(id), 0) FROM outbox').catch(() => 0);

/** Outbox rows not yet relayed. */
const unsent = (db: Pool) => scalar(db, 'SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL').catch(() => -1);

/** Effect rows up to `maxId` that are not applied yet (timer rows are checked by their timer, not here). */
const unappliedUpTo = (db: Pool, maxId: number) =>
  scalar(
    db,
    `SELECT COUNT(*) FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id
      WHERE o.id <= ? AND o.job_name <> 'fire-timer' AND a.outbox_id IS NULL`,
    [maxId],
  );

/** Effect rows up to `maxId` published to Redis but not applied yet: what a lost queue or a dead consumer puts at risk. */
const atRisk = (db: Pool, maxId: number) =>
  scalar(
    db,
    `SELECT COUNT(*) FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id
      WHERE o.id <= ? AND o.job_name <> 'fire-timer' AND o.sent_at IS NOT NULL AND a.outbox_id IS NULL`,
    [maxId],
  ).catch(() => -1);

/**
 * Measures in the background until every effect row up to `maxId` is applied (ms from `from`, null after `timeoutMs`)
 * and writes it into `result.lostWorkRedoneMs`. The run collects these promises before its report.
 */
export const backgroundMeasures: Promise<void>[] = [];

function measureLostWork(ctx: FaultContext, result: FaultResult, maxId: number, from: number, timeoutMs: number): void {
  result.lostWorkRedoneMs = null;
  backgroundMeasures.push(
    (async () => {
      const ok = await until(
        async () => (await unappliedUpTo(ctx.db, maxId)) === 0,
        Math.max(0, from + timeoutMs - Date.now()),
        250,
      );
      result.lostWorkRedoneMs = ok === null ? null : Date.now() - from;
      ctx.log(`${result.name}: the work it interrupted was all applied after ${fmt(result.lostWorkRedoneMs)}`);
    })(),
  );
}

export async function killWorker(ctx: FaultContext, n: number): Promise<FaultResult> {
  const maxId = await lastOutboxId(ctx.db);
  const at = Date.now();
  await ctx.worker.stop('SIGKILL');
  ctx.worker.start();
  const downMs = Date.now() - at;
  const risk = await atRisk(ctx.db, maxId);
  const m = await ctx.probe.measure(ctx.measureMs);
  const recoveryMs = m.appliedAt === null ? null : m.appliedAt - at;
  ctx.log(`worker kill ${n}: recovered in ${fmt(recoveryMs)}`);
  const result: FaultResult = {
    name: `worker kill -9 #${n}`,
    service: 'worker',
    at,
    downMs,
    from: 'kill',
    recoveryMs,
    targetMs: TARGET_MS.worker,
    met: recoveryMs !== null && recoveryMs <= TARGET_MS.worker,
    lostWorkRows: risk,
  };
  // jobs the killed worker held come back when their lock expires (BullMQ's stalled-job check)
  measureLostWork(ctx, result, maxId, at, 180_000);
  return result;
}

export type RedisFault = 'restart' | 'flushall' | 'crash' | 'flushall+restart';

/** How long the effects queue is paused before Redis loses its data, so that the loss takes queued work with it. */
const BACKLOG_MS = 2_000;

export async function redisFault(ctx: FaultContext, kind: RedisFault): Promise<FaultResult> {
  if (kind !== 'restart') {
    // the backlog heavy load would build: consumers stop taking effect jobs, the relay keeps publishing them
    await ctx.redis.pauseQueue('effects', ctx.queuePrefix);
    await sleep(BACKLOG_MS);
  }
  const maxId = await lastOutboxId(ctx.db);
  const at = Date.now();
  let sampling = true;
  const sampler = sampleOutage(ctx, () => sampling);
  if (kind === 'flushall' || kind === 'flushall+restart') await ctx.redis.command((r) => r.flushall());
  if (kind === 'crash') await ctx.redis.proc.stop('SIGKILL');
  const risk = kind === 'restart' ? 0 : await atRisk(ctx.db, maxId);
  if (kind !== 'flushall') {
    if (kind === 'restart') {
      // a clean restart keeps the data: SHUTDOWN SAVE writes the dump the new process loads
      await ctx.redis.proc.expectExit(() =>
        ctx.redis.command((r) => r.call('SHUTDOWN', 'SAVE')).catch(() => undefined),
      );
    } else if (kind === 'flushall+restart') {
      await ctx.redis.proc.stop('SIGKILL');
    }
    await sleep(ctx.downMs);
    ctx.redis.start();
    await ctx.redis.waitReady();
  }
  const back = Date.now();
  sampling = false;
  await sampler;
  const backlog = await unsent(ctx.db);
  const m = await ctx.probe.measure(ctx.measureMs);
  const recoveryMs = m.appliedAt === null ? null : m.appliedAt - back;
  const outage = kind === 'flushall' ? undefined : outageStats(ctx.api.samples, at, back);
  ctx.log(
    `redis ${kind}: down ${back - at} ms, recovered in ${fmt(recoveryMs)}` +
      (outage ? `, API p99 ${outage.p99Ms} ms ${JSON.stringify(outage.statuses)}` : ''),
  );
  const result: FaultResult = {
    name: `redis ${kind}`,
    service: 'redis',
    at,
    downMs: back - at,
    from: 'service back',
    recoveryMs,
    targetMs: TARGET_MS.redis,
    met: recoveryMs !== null && recoveryMs <= TARGET_MS.redis,
    backlog,
    ...(outage ? { outage } : {}),
  };
  if (kind !== 'restart') {
    // the jobs Redis held when it lost its data must be published again from the outbox
    result.lostWorkTargetMs = TARGET_MS.redis;
    result.lostWorkRows = risk;
    measureLostWork(ctx, result, maxId, back, 180_000);
  }
  return result;
}

export type MariaDbFault = 'crash' | 'restart';

export async function mariadbFault(ctx: FaultContext, kind: MariaDbFault): Promise<FaultResult> {
  const at = Date.now();
  let sampling = true;
  const sampler = sampleOutage(ctx, () => sampling);
  await ctx.mariadb.proc.stop(kind === 'crash' ? 'SIGKILL' : 'SIGTERM', 60_000);
  await sleep(ctx.downMs);
  ctx.mariadb.start();
  await ctx.mariadb.waitReady();
  const back = Date.now();
  sampling = false;
  await sampler;
  const outage = outageStats(ctx.api.samples, at, back);
  const m = await ctx.probe.measure(ctx.measureMs);
  const recoveryMs = m.appliedAt === null ? null : m.appliedAt - back;
  const backlog = await unsent(ctx.db);
  ctx.log(
    `mariadb ${kind}: down ${back - at} ms, recovered in ${fmt(recoveryMs)}, API p99 ${outage.p99Ms} ms ${JSON.stringify(outage.statuses)}`,
  );
  return {
    name: `mariadb ${kind === 'crash' ? 'kill -9 + restart' : 'clean restart'}`,
    service: 'mariadb',
    at,
    downMs: back - at,
    from: 'service back',
    recoveryMs,
    targetMs: TARGET_MS.mariadb,
    met: recoveryMs !== null && recoveryMs <= TARGET_MS.mariadb,
    backlog,
    outage,
  };
}

export const fmt = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`;

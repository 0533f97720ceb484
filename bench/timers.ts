/**
 * Benchmark: timer lateness (fired time − due time) of Gridflow's durable timers, next to raw BullMQ delayed jobs
 * measured in the same run, on the same Redis and with the same worker concurrency.
 *
 * - Gridflow: N `remind` timer rows (one per open task, each notifying its assignee unit) come due within the same
 *   second, spread evenly over it, while M other timer rows wait far in the future (their delayed jobs too). The
 *   production worker (WorkerModule: timers processor, sweeper, relay) fires them; lateness is the row's `fired_at`
 *   (set in the firing transaction, after the locks are taken) minus its `due_at`.
 * - Raw BullMQ: N delayed jobs due at the same instants and M far-future ones on another queue, consumed by a no-op
 *   worker; lateness is the moment the processor starts minus the due time.
 *
 * The CPU of the worker (this process), MariaDB and Redis is read from /proc while each Gridflow burst fires (from
 * its first due time until every row is fired) and while the rows' own jobs run after it, and reported per fired
 * timer (the bench's own polls, a COUNT every 250 ms and a job count every 100 ms, are included), with the machine's
 * busy cores while the burst fired: lateness follows from whether the 2-core machine keeps up.
 *
 * The two sides take turns, burst after burst (ROUNDS rounds, the backlogs set up once); the figures are the medians of
 * the rounds' figures, and each round's p99 is reported too. A round waits until the burst's own per-row jobs (due
 * TIMER_JOB_GRACE_MS after their rows, finding them fired) have run, so they do not fall into the next measurement.
 *
 * Full: N = 10,000 due with M = 100,000 pending; quick: 1,000 / 10,000. Target: Gridflow p99 ≤ 250 ms and within
 * 50 ms of raw BullMQ's p99. Everything runs in a scratch database (`<DATABASE_URL's database>_bench_timers`, migrated
 * and seeded, dropped at the end) and under its own Redis prefix (keys deleted at the end).
 * Run after the build: `node dist/bench/timers.js [--quick]`.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NestFactory } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { createConnection } from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { newId } from '@gridflow/common';
import { createDataSource, migrate, seedDemoDistrict, seedWorkflows, splitDatabaseUrl } from '@gridflow/persistence';
import { createRedis, QueueName, redisOptions, timerJobs } from '@gridflow/queue';
import { TIMER_CONCURRENCY } from '../apps/worker/src/timers/timers.processor.js';
import { cpuSeconds, machineBusySeconds, mariadbPids, redisPids } from './ceilings.js';
import { printTable, type BenchFigure } from './report.js';

const P99_CEILING_MS = 250;
const P99_GAP_MS = 50;
const CHUNK = 1000;
const FAR_FUTURE_MS = 6 * 3600_000;
/** Bursts per run, each measured on both sides; the figures are the medians over them. */
const ROUNDS = 3;

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stats {
  p50: number;
  p99: number;
  max: number;
}
function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
}

async function inChunks<T>(items: T[], fn: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) await fn(items.slice(i, i + CHUNK));
}

/** Due instants: `n` timers spread evenly over one second starting at `start`. */
const dueTimes = (n: number, start: number) => Array.from({ length: n }, (_, i) => start + Math.floor((i * 1000) / n));

interface Side {
  /** One burst: `due` timers due within one second; the lateness of each, in ms. */
  burst(round: number): Promise<number[]>;
  close(): Promise<void>;
}

/** CPU per timer of each process (the worker is the bench process: the production worker runs in it). */
interface PerTimerCpu {
  worker: number;
  mariadb: number;
  redis: number;
}
/** CPU a burst cost per timer, in µs: while it fired, and in the rows' own jobs after it. */
interface BurstCpu {
  firing: PerTimerCpu;
  ownJobs: PerTimerCpu;
  /** Cores busy on the whole machine while the burst fired (first due time until every row was fired). */
  machineCores: number;
}

/** Raw BullMQ: a no-op worker over delayed jobs, with `pending` far-future jobs waiting throughout. */
async function rawBullmq(opts: { due: number; pending: number; prefix: string; redisUrl: string }): Promise<Side> {
  const connection = redisOptions(opts.redisUrl, 'worker') as ConnectionOptions;
  const queue = new Queue('bench-raw', {
    connection: redisOptions(opts.redisUrl, 'producer') as ConnectionOptions,
    prefix: opts.prefix,
  });
  let late: number[] = [];
  const worker = new Worker(
    'bench-raw',
    async (job) => {
      late.push(Date.now() - (job.data as { dueAt: number }).dueAt);
    },
    { connection, prefix: opts.prefix, concurrency: TIMER_CONCURRENCY },
  );
  const close = async () => {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  };
  try {
    const now = Date.now();
    await inChunks(
      Array.from({ length: opts.pending }, (_, i) => i),
      (c) =>
        queue.addBulk(
          c.map((i) => ({
            name: 'far',
            data: { dueAt: now + FAR_FUTURE_MS },
            opts: { jobId: `far-${i}`, delay: FAR_FUTURE_MS, removeOnComplete: true },
          })),
        ),
    );
  } catch (e) {
    await close();
    throw e;
  }
  return {
    close,
    async burst(round) {
      late = [];
      const start = Date.now() + 3000 + opts.due / 10;
      const times = dueTimes(opts.due, start);
      await inChunks(
        times.map((t, i) => ({ t, i })),
        (c) =>
          queue.addBulk(
            c.map(({ t, i }) => ({
              name: 'due',
              data: { dueAt: t },
              opts: { jobId: `due-${round}-${i}`, delay: t - Date.now(), removeOnComplete: true },
            })),
          ),
      );
      const until = start + 120_000;
      while (late.length < opts.due && Date.now() < until) await sleep(100);
      if (late.length < opts.due) throw new Error(`raw BullMQ: only ${late.length} of ${opts.due} jobs ran`);
      return late;
    },
  };
}

/**
 * Gridflow: timer rows fired by the production worker. `due` open tasks get `pending` far-future timer rows between
 * them (with their jobs); each burst adds one row per task due within the same second.
 */
async function gridflowTimers(opts: {
  due: number;
  pending: number;
  ds: DataSource;
  pids: { mariadb: number[]; redis: number[] };
}): Promise<Side & { cpu: BurstCpu[] }> {
  const { ds } = opts;
  const { WorkerModule } = await import('../apps/worker/src/worker.module.js');
  const worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
  await worker.init();
  const close = () => worker.close();
  try {
    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    const [unit] = (await ds.query("SELECT id, path FROM org_units WHERE code = 'xh-jd1-sq1'")) as {
      id: string;
      path: string;
    }[];
    const [creator] = (await ds.query('SELECT id FROM users WHERE org_unit_id = ? LIMIT 1', [unit.id])) as {
      id: string;
    }[];
    const [wf] = (await ds.query("SELECT MAX(version) AS v FROM workflow_versions WHERE workflow_key = 'handoff'")) as {
      v: number;
    }[];
    const farDue = new Date(Date.now() + FAR_FUTURE_MS);
    const taskIds = Array.from({ length: opts.due }, () => newId());
    await inChunks(taskIds, (c) =>
      ds.query(
        `INSERT INTO tasks (id, title, category_code, owner_org_unit_id, assignee_org_unit_id, owner_path, assignee_path, root_id, state, is_open, due_at, workflow_key, workflow_version, version, created_by)
         VALUES ${c.map(() => "(?, '计时压测', 'SANITATION_GRID_CLEANING', ?, ?, ?, ?, ?, 'in_progress', 1, ?, 'handoff', ?, 1, ?)").join(',')}`,
        c.flatMap((id) => [id, unit.id, unit.id, unit.path, unit.path, id, farDue, wf.v, creator.id]),
      ),
    );
    const remind = JSON.stringify({ kind: 'remind', to: 'assignee', template: 'task.due_soon' });
    const insertTimers = (rows: { id: string; taskId: string; dueAt: Date }[]) =>
      inChunks(rows, (c) =>
        ds.query(
          `INSERT INTO task_timers (id, task_id, timer_id, state, due_at, status, do_action, task_version) VALUES ${c.map(() => "(?, ?, 'progress-reminder', 'in_progress', ?, 'pending', ?, 1)").join(',')}`,
          c.flatMap((r) => [r.id, r.taskId, r.dueAt, remind]),
        ),
      );
    // the jobs the outbox relay adds for these rows (timerJobs), added straight to the queue
    const addJobs = (rows: { id: string; taskId: string; dueAt: Date }[]) =>
      inChunks(rows, (c) =>
        queue.addBulk(timerJobs(c.map((r) => ({ timerRowId: r.id, taskId: r.taskId, dueAt: r.dueAt.toISOString() })))),
      );
    // the pending backlog: far in the future, spread over the same tasks
    const pending = Array.from({ length: opts.pending }, (_, i) => ({
      id: newId(),
      taskId: taskIds[i % taskIds.length],
      dueAt: new Date(farDue.getTime() + i),
    }));
    await insertTimers(pending);
    await addJobs(pending);
    const backlogJobs = (await queue.getJobCounts('delayed')).delayed;

    const cpu: BurstCpu[] = [];
    const sum = (pids: number[]) => pids.reduce((a, p) => a + cpuSeconds(p), 0);
    const snapshot = () => ({
      at: Date.now(),
      worker: process.cpuUsage(),
      mariadb: sum(opts.pids.mariadb),
      redis: sum(opts.pids.redis),
      busy: machineBusySeconds(),
    });
    return {
      close,
      cpu,
      async burst(round) {
        // the burst: one timer per task, all due within the same second
        const start = Date.now() + 3000 + opts.due / 5;
        const times = dueTimes(opts.due, start);
        const burst = taskIds.map((taskId, i) => ({ id: newId(), taskId, dueAt: new Date(times[i]) }));
        await insertTimers(burst);
        await addJobs(burst);
        if (Date.now() > start) throw new Error('setup took longer than the lead time; raise it');

        const ids = burst.map((b) => b.id);
        await sleep(start - Date.now());
        const before = snapshot();
        const until = start + 300_000;
        let fired = 0;
        while (fired < opts.due && Date.now() < until) {
          await sleep(250);
          const [row] = (await ds.query(
            "SELECT COUNT(*) AS n FROM task_timers WHERE status = 'fired' AND due_at BETWEEN ? AND ?",
            [new Date(start), new Date(start + 1000)],
          )) as { n: number }[];
          fired = Number(row.n);
        }
        if (fired < opts.due) throw new Error(`Gridflow: only ${fired} of ${opts.due} timers fired`);
        const allFired = snapshot();
        const late: number[] = [];
        await inChunks(ids, async (c) => {
          const rows = (await ds.query(
            `SELECT TIMESTAMPDIFF(MICROSECOND, due_at, fired_at) / 1000 AS ms FROM task_timers WHERE id IN (${c.map(() => '?').join(',')})`,
            c,
          )) as { ms: string }[];
          for (const r of rows) late.push(Number(r.ms));
        });
        const [notes] = (await ds.query('SELECT COUNT(*) AS n FROM notifications')) as { n: number }[];
        if (Number(notes.n) < opts.due * round)
          throw new Error(`expected at least ${opts.due * round} notifications, found ${notes.n}`);
        // the rows' own jobs (due TIMER_JOB_GRACE_MS after them) run and find their rows fired: wait for them, so
        // that they do not run into the next measurement
        const jobsFrom = snapshot();
        const quiet = Date.now() + 60_000;
        for (;;) {
          const c = await queue.getJobCounts('delayed', 'wait', 'active', 'prioritized');
          if (c.delayed <= backlogJobs && !c.wait && !c.active && !c.prioritized) break;
          if (Date.now() > quiet) throw new Error(`the burst's own jobs did not finish: ${JSON.stringify(c)}`);
          await sleep(100);
        }
        const jobsTo = snapshot();
        // two windows: the firing, and the rows' own jobs (the lateness reads in between are the bench's)
        const perTimer = (from: ReturnType<typeof snapshot>, to: ReturnType<typeof snapshot>): PerTimerCpu => ({
          worker: (to.worker.user - from.worker.user + (to.worker.system - from.worker.system)) / opts.due,
          mariadb: ((to.mariadb - from.mariadb) * 1e6) / opts.due,
          redis: ((to.redis - from.redis) * 1e6) / opts.due,
        });
        cpu.push({
          firing: perTimer(before, allFired),
          ownJobs: perTimer(jobsFrom, jobsTo),
          machineCores: (allFired.busy - before.busy) / ((allFired.at - before.at) / 1000),
        });
        return late;
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

export async function runTimerBench(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const due = opts.quick ? 1_000 : 10_000;
  const pending = opts.quick ? 10_000 : 100_000;
  const baseUrl = process.env.DATABASE_URL ?? 'mariadb://root@127.0.0.1:3306/gridflow';
  const { serverUrl, database } = splitDatabaseUrl(baseUrl);
  const url = `${serverUrl.replace(/\/$/, '')}/${database}_bench_timers`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `gfbench-timers-${process.pid}`;
  // the worker reads its settings from the environment, like in production (restored at the end)
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REDIS_PREFIX: process.env.REDIS_PREFIX };
  process.env.DATABASE_URL = url;
  process.env.REDIS_PREFIX = prefix;
  process.env.DATABASE_POOL_SIZE ??= '40';
  process.env.LOG_LEVEL ??= 'error';
  process.env.JWT_SECRET ??= 'bench-only-secret-bench-only-secret-0123';
  process.env.WEBHOOK_SECRET_KEY ??= randomBytes(32).toString('base64url');

  const dropDb = async () => {
    const conn = await createConnection({ uri: serverUrl });
    await conn.query(`DROP DATABASE IF EXISTS \`${database}_bench_timers\``);
    await conn.end();
  };
  await dropDb();
  await migrate({ url });
  const ds = createDataSource({ url, poolSize: 4 });
  await ds.initialize();
  const redis = createRedis(redisUrl, 'producer');
  try {
    const configDir = resolve(process.cwd(), 'config');
    await seedWorkflows(ds, configDir);
    await seedDemoDistrict(ds, { configDir, demoPassword: 'Bench@2026', passwordLog2N: 10 });

    const rawSide = await rawBullmq({ due, pending, prefix: `${prefix}-raw`, redisUrl });
    const rounds: { raw: Stats; ours: Stats }[] = [];
    const cpus: BurstCpu[] = [];
    try {
      const pids = { mariadb: await mariadbPids(), redis: await redisPids(redisUrl) };
      const oursSide = await gridflowTimers({ due, pending, ds, pids });
      try {
        // side by side, round after round: the figures are the medians over the rounds
        for (let round = 1; round <= ROUNDS; round++) {
          const raw = stats(await rawSide.burst(round));
          const ours = stats(await oursSide.burst(round));
          rounds.push({ raw, ours });
          const cpu = oursSide.cpu[oursSide.cpu.length - 1];
          console.error(
            `[bench] timers round ${round}: Gridflow p50 ${Math.round(ours.p50)} p99 ${Math.round(ours.p99)} max ${Math.round(ours.max)} ms; raw BullMQ p50 ${Math.round(raw.p50)} p99 ${Math.round(raw.p99)} max ${Math.round(raw.max)} ms; CPU per timer while firing: worker ${Math.round(cpu.firing.worker)} µs, MariaDB ${Math.round(cpu.firing.mariadb)} µs, Redis ${Math.round(cpu.firing.redis)} µs (own jobs after: ${Math.round(cpu.ownJobs.worker)}, ${Math.round(cpu.ownJobs.mariadb)}, ${Math.round(cpu.ownJobs.redis)} µs); machine ${cpu.machineCores.toFixed(2)} cores busy`,
          );
          cpus.push(cpu);
        }
      } finally {
        await oursSide.close();
      }
    } finally {
      await rawSide.close();
    }
    const mid = (side: 'raw' | 'ours', q: keyof Stats) => median(rounds.map((r) => r[side][q]));
    const ours = { p50: mid('ours', 'p50'), p99: mid('ours', 'p99'), max: mid('ours', 'max') };
    const raw = { p50: mid('raw', 'p50'), p99: mid('raw', 'p99'), max: mid('raw', 'max') };
    const gap = ours.p99 - raw.p99;
    const label = `${due.toLocaleString('en-US')} due / ${pending.toLocaleString('en-US')} pending, median of ${ROUNDS} rounds`;
    return [
      { name: `Gridflow timer lateness p50 (${label})`, value: Math.round(ours.p50), unit: 'ms' },
      {
        name: 'Gridflow timer lateness p99',
        value: Math.round(ours.p99),
        unit: 'ms',
        ceiling: P99_CEILING_MS,
        met: ours.p99 <= P99_CEILING_MS,
      },
      { name: 'Gridflow timer lateness max', value: Math.round(ours.max), unit: 'ms' },
      { name: 'raw BullMQ delayed-job lateness p50', value: Math.round(raw.p50), unit: 'ms' },
      { name: 'raw BullMQ delayed-job lateness p99', value: Math.round(raw.p99), unit: 'ms' },
      { name: 'raw BullMQ delayed-job lateness max', value: Math.round(raw.max), unit: 'ms' },
      {
        name: 'Gridflow p99 − raw BullMQ p99',
        value: Math.round(gap),
        unit: 'ms',
        ceiling: P99_GAP_MS,
        met: gap <= P99_GAP_MS,
      },
      ...(['firing', 'ownJobs'] as const).flatMap((when) =>
        (['worker', 'mariadb', 'redis'] as const).map((proc) => ({
          name: `Gridflow CPU per timer, ${when === 'firing' ? 'while the burst fired' : 'in the rows’ own jobs after it'}: ${{ worker: 'worker', mariadb: 'MariaDB', redis: 'Redis' }[proc]} (median of rounds)`,
          value: Math.round(median(cpus.map((c) => c[when][proc]))),
          unit: 'µs',
        })),
      ),
      {
        name: 'machine cores busy while a burst fired (median of rounds)',
        value: Math.round(median(cpus.map((c) => c.machineCores)) * 100) / 100,
        unit: 'cores',
      },
      ...rounds.flatMap((r, i) => [
        { name: `Gridflow timer lateness p99, round ${i + 1}`, value: Math.round(r.ours.p99), unit: 'ms' },
        { name: `raw BullMQ delayed-job lateness p99, round ${i + 1}`, value: Math.round(r.raw.p99), unit: 'ms' },
      ]),
    ];
  } finally {
    await ds.destroy();
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await dropDb();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  runTimerBench({ quick })
    .then((figures) => printTable(figures))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 500).unref());
}

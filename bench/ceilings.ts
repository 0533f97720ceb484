/**
 * Phase 1 — ceilings: what the bare infrastructure does on this machine, measured in the same run, so the
 * end-to-end figures can be read against it.
 *
 * Raw BullMQ: no-op jobs added to and processed from a queue on the real Redis (own key prefix, deleted at the end),
 * with one worker at concurrency 1 and at concurrency 50. Two ways of adding, both with the retry/retention options
 * Gridflow gives its effect jobs and a custom job id per job: one `add` call per job (up to 100 in flight), and
 * `addBulk` in batches of 500 — the way Gridflow's outbox relay publishes (≤ 500 rows per batch), so the addBulk
 * figure is the fair ceiling for the relay. Reported as jobs/s from the first add until the last job was processed.
 *
 * Raw MariaDB: transactions with the statement shape of ONE task transition in Gridflow — `accept`, the transition
 * that touches every part (TaskShell.perform → loadFacts → TaskEffects → apply → applyTimers → appendEvent →
 * OutboxWriter.add), replayed with plain mysql2 (text protocol, like TypeORM) on a scratch database
 * (`gridflow_bench_ceil_<pid>`, built by the migrations and the demo seed, dropped at the end):
 *
 *   1. START TRANSACTION
 *   2. SELECT * FROM tasks WHERE id = ? FOR UPDATE                 lock the task (getVisible); its row holds the chain head
 *   3. SELECT balance_fen FROM accounts WHERE id = 'task-<id>'     fact for fundsAttached: the escrow balance
 *   4. SELECT c.*, EXISTS (duty of the assignee's kind or unit)     facts for powersCover: the category and whether
 *        FROM categories c WHERE c.code = ?                          the work is the assignee's own duty (no grant needed)
 *   5. INSERT INTO task_events …                                   the next link, SHA-256 over the head's hash (a task
 *                                                                    without a head reads its chain's tail first)
 *   6. UPDATE tasks SET state, version, updated_at, last_event_seq, last_event_hash WHERE id = ?   changed columns only
 *   7. SELECT id FROM task_timers WHERE task_id = ? AND timer_id IN (…) AND status = 'pending'   timers to cancel
 *   8. UPDATE task_timers SET status = 'cancelled' WHERE id IN (…) AND status = 'pending'        by primary key
 *   9. INSERT INTO task_timers … (2 rows)                           the timers of the new state
 *  10. INSERT INTO outbox … (4 rows: notify, 2 fire-timer, roll-up) derived work, same transaction
 *  11. COMMIT                                                       (innodb_flush_log_at_trx_commit as configured)
 *
 * Outside the transaction Gridflow also reads the caller (one query, authentication, cached for a second) and the
 * task's escrow and grants for the response (one query); those are its overhead, not the database's ceiling, and are
 * not replayed. Other transitions are shorter (report-progress: 5 statements) or longer (approve, which settles the
 * escrow). Every connection works on its own task rows (no lock waits); 1, 8 and 32 connections, reported as
 * transactions/s. The client runs in this process, on the same cores as the server, like Gridflow's API does.
 *
 * Each measurement replays on task rows of its own, prepared before its clock starts: at least 1,024 tasks and 64 per
 * connection, each with its chain head set and two pending timers, as Gridflow's tasks have. A task so sees one to
 * three transitions, and the timers step 7 reads through the task index stay a few, as in Gridflow. (Until the sixth
 * session the replay went round the same 16 tasks per connection, measurement after measurement; each task gathered
 * hundreds of cancelled timers that step 7 read, and the ceiling read low, lower with every measurement.)
 *
 * Run after the build: `node dist/bench/ceilings.js [--quick]`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { createConnection, createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { newId } from '@gridflow/common';
import { createDataSource, migrate, seedDemoDistrict, seedWorkflows, splitDatabaseUrl } from '@gridflow/persistence';
import { createRedis, JOB_OPTIONS, JobName, redisOptions } from '@gridflow/queue';
import { eventHash, GENESIS_HASH } from '../libs/domain/src/tasks/event-chain.js';
import { printTable, type BenchFigure } from './report.js';

/** Figure names of the raw MariaDB transition ceiling start with this; the HTTP phase looks them up by it. */
export const MARIADB_CEILING_NAME = 'raw MariaDB transition';

/** Fresh tasks for each measurement: at least this many in all, and TASKS_PER_CONNECTION per connection. */
const TASKS_PER_MEASURE = 1024;
const TASKS_PER_CONNECTION = 64;
const BULK = 500;
const ADD_IN_FLIGHT = 100;

/** The ceilings phase's raw MariaDB transition rate at 32 connections among earlier figures, if that phase ran. */
export function phaseTransitionCeiling(figures: readonly BenchFigure[]): number | undefined {
  return figures.find(
    (f) => f.unit === 'tx/s' && f.name.startsWith(MARIADB_CEILING_NAME) && f.name.endsWith(', 32 connections') && Number.isFinite(f.value),
  )?.value;
}

/** The server part of DATABASE_URL (the bench's own database name is not used here). */
export function serverUrl(): string {
  return splitDatabaseUrl(process.env.DATABASE_URL ?? 'mariadb://root@127.0.0.1:3306/gridflow').serverUrl;
}

/** Creates a scratch database from the migrations and the demo seed; returns its URL. */
export async function createScratchDatabase(database: string): Promise<string> {
  await dropDatabase(database);
  const url = `${serverUrl().replace(/\/$/, '')}/${database}`;
  await migrate({ url });
  const ds = createDataSource({ url, poolSize: 2 });
  await ds.initialize();
  try {
    const configDir = resolve(process.cwd(), 'config');
    await seedWorkflows(ds, configDir);
    await seedDemoDistrict(ds, { configDir, demoPassword: process.env.DEMO_PASSWORD ?? 'Gridflow@2026', passwordLog2N: 10 });
  } finally {
    await ds.destroy();
  }
  return url;
}

export async function dropDatabase(database: string): Promise<void> {
  const conn = await createConnection({ uri: serverUrl() });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

/** Deletes every Redis key under a prefix (SCAN, never FLUSH: the Redis is shared). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = createRedis(redisUrl, 'worker');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux): where the cores went while a figure was measured

const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far; NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** A TCP port nothing listens on right now (for a service the bench starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A process and all its descendants (an API started with API_WORKERS > 1 runs its processes as children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const thread of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${thread}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // the process is gone
    }
  }
  return out;
}

/** CPU seconds the whole machine has been busy so far (every process, the bench's and anyone else's). */
export function machineBusySeconds(): number {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const t = cpu.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    return (t.reduce((a, b) => a + b, 0) - t[3] - t[4]) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * The process of the MariaDB server the bench talks to (from its pid file; it serves every database on the machine,
 * so its CPU includes other users' work). Empty when it runs elsewhere.
 */
export async function mariadbPids(): Promise<number[]> {
  const conn = await createConnection({ uri: serverUrl() });
  try {
    const [[row]] = await conn.query<RowDataPacket[]>('SELECT @@pid_file AS f');
    const pid = Number(readFileSync(String(row.f), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? [pid] : [];
  } catch {
    return [];
  } finally {
    await conn.end();
  }
}

/** The process of the Redis server the bench talks to (INFO server). */
export async function redisPids(redisUrl: string): Promise<number[]> {
  const redis = createRedis(redisUrl, 'worker');
  try {
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    return Number.isInteger(pid) && pid > 0 ? [pid] : [];
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// raw MariaDB

interface BenchTask {
  id: string;
  parentId: string;
  assigneeId: string;
  version: number;
}

/** The timers each replayed transition cancels and starts again. */
const REPLAY_TIMERS = ['progress-reminder', 'deadline-escalation'];

/**
 * Task rows for the replay: `perConnection` children of one parent per connection, pending acceptance at a community
 * (own duty), each with its chain head (seq 0, the genesis hash: the next event is the first) and two pending timers.
 */
async function prepareTasks(pool: Pool, connections: number, perConnection: number): Promise<BenchTask[][]> {
  const [units] = await pool.query<RowDataPacket[]>(
    "SELECT s.id AS streetId, s.path AS streetPath, c.id AS communityId, c.path AS communityPath FROM org_units c JOIN org_units s ON s.id = c.parent_id WHERE c.kind = 'community' ORDER BY c.code",
  );
  const [[creator]] = await pool.query<RowDataPacket[]>('SELECT id FROM users ORDER BY username LIMIT 1');
  const [[wf]] = await pool.query<RowDataPacket[]>("SELECT MAX(version) AS v FROM workflow_versions WHERE workflow_key = 'handoff'");
  const due = new Date(Date.now() + 30 * 86400_000);
  const sets: BenchTask[][] = [];
  for (let c = 0; c < connections; c++) {
    const unit = units[c % units.length];
    const parentId = newId();
    const tasks: BenchTask[] = Array.from({ length: perConnection }, () => ({
      id: newId(),
      parentId,
      assigneeId: unit.communityId as string,
      version: 1,
    }));
    const row = (id: string, parent: string | null, assignee: string, assigneePath: string, state: string) => [
      id, '压测任务', 'SANITATION_GRID_CLEANING', unit.streetId, assignee, unit.streetPath, assigneePath, parent, parentId, parent ? 1 : 0, state, due, wf.v, creator.id, GENESIS_HASH,
    ];
    const rows = [
      row(parentId, null, unit.streetId, unit.streetPath, 'in_progress'),
      ...tasks.map((t) => row(t.id, parentId, unit.communityId, unit.communityPath, 'pending_acceptance')),
    ];
    await pool.query(
      `INSERT INTO tasks (id, title, category_code, owner_org_unit_id, assignee_org_unit_id, owner_path, assignee_path, parent_id, root_id, depth, state, is_open, due_at, workflow_key, workflow_version, version, created_by, last_event_seq, last_event_hash)
       VALUES ${rows.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 'handoff', ?, 1, ?, 0, ?)").join(',')}`,
      rows.flat(),
    );
    await pool.query(
      `INSERT INTO accounts (id, kind, task_id, balance_fen) VALUES ${tasks.map(() => "(?, 'escrow', ?, 1000)").join(',')}`,
      tasks.flatMap((t) => [`task-${t.id}`, t.id]),
    );
    // the two pending timers the first transition cancels (as an accept cancels the acceptance timers)
    const timers = tasks.flatMap((t) => REPLAY_TIMERS.map((timerId, i) => [newId(), t.id, timerId, new Date(due.getTime() - (i + 1) * 86400_000)]));
    await pool.query(
      `INSERT INTO task_timers (id, task_id, timer_id, state, due_at, status, do_action, task_version)
       VALUES ${timers.map(() => "(?, ?, ?, 'pending_acceptance', ?, 'pending', '{}', 1)").join(',')}`,
      timers.flat(),
    );
    sets.push(tasks);
  }
  return sets;
}

/** One `accept`-shaped transition (see the file comment for the statement list). */
async function transition(conn: PoolConnection, t: BenchTask): Promise<void> {
  const now = new Date();
  await conn.query('START TRANSACTION');
  try {
    const [[task]] = await conn.query<RowDataPacket[]>('SELECT * FROM tasks WHERE id = ? FOR UPDATE', [t.id]);
    await conn.query('SELECT CAST(balance_fen AS CHAR) AS balance FROM accounts WHERE id = ?', [`task-${t.id}`]);
    await conn.query(
      `SELECT c.*, EXISTS (SELECT 1 FROM duties d JOIN org_units o ON o.id = ?
                            WHERE d.category_code = c.code AND ((d.scope = 'kind' AND d.scope_value = o.kind) OR (d.scope = 'unit' AND d.scope_value = o.id))) AS has_duty
         FROM categories c WHERE c.code = ?`,
      [t.assigneeId, task.category_code],
    );
    t.version = Number(task.version) + 1;
    let last = task.last_event_seq === null ? null : { seq: Number(task.last_event_seq), hash: task.last_event_hash as string };
    if (!last) {
      // a task without a head yet (its first replayed transition): the chain's tail, as Gridflow reads it then
      const [tail] = await conn.query<RowDataPacket[]>('SELECT seq, hash FROM task_events WHERE task_id = ? ORDER BY seq DESC LIMIT 1', [t.id]);
      last = tail[0] ? { seq: Number(tail[0].seq), hash: tail[0].hash as string } : null;
    }
    const seq = (last?.seq ?? 0) + 1;
    const prevHash = last?.hash ?? GENESIS_HASH;
    const event = { taskId: t.id, action: 'accept', fromState: 'pending_acceptance', toState: 'in_progress', actorUserId: null, actorOrgUnitId: t.assigneeId, payload: {}, at: now };
    const hash = eventHash({ ...event, seq }, prevHash);
    await conn.query(
      'INSERT INTO task_events (task_id, seq, action, from_state, to_state, actor_user_id, actor_org_unit_id, payload, at, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [t.id, seq, event.action, event.fromState, event.toState, null, t.assigneeId, '{}', now, hash, prevHash],
    );
    await conn.query('UPDATE tasks SET state = ?, version = ?, updated_at = CURRENT_TIMESTAMP(3), last_event_seq = ?, last_event_hash = ? WHERE id = ?', [
      'in_progress',
      t.version,
      seq,
      hash,
      t.id,
    ]);
    const [pending] = await conn.query<RowDataPacket[]>("SELECT id FROM task_timers WHERE task_id = ? AND timer_id IN (?, ?) AND status = 'pending'", [
      t.id,
      ...REPLAY_TIMERS,
    ]);
    if (pending.length) {
      await conn.query(`UPDATE task_timers SET status = 'cancelled' WHERE id IN (${pending.map(() => '?').join(',')}) AND status = 'pending'`, pending.map((r) => r.id));
    }
    const timers = REPLAY_TIMERS.map((timerId, i) => ({
      id: newId(),
      timerId,
      dueAt: new Date(now.getTime() + (i + 1) * 86400_000),
      doAction: JSON.stringify({ kind: i ? 'escalate' : 'remind', to: 'assignee', template: 'task.due_soon' }),
    }));
    await conn.query(
      "INSERT INTO task_timers (id, task_id, timer_id, state, due_at, status, do_action, task_version) VALUES (?, ?, ?, 'in_progress', ?, 'pending', ?, ?), (?, ?, ?, 'in_progress', ?, 'pending', ?, ?)",
      timers.flatMap((r) => [r.id, t.id, r.timerId, r.dueAt, r.doAction, t.version]),
    );
    const correlationId = createHash('md5').update(t.id + seq).digest('hex');
    const outbox = [
      [JobName.Notify, t.id, JSON.stringify({ taskId: t.id, eventSeq: seq, template: 'task.accepted', to: 'owner' })],
      ...timers.map((r) => [JobName.FireTimer, t.id, JSON.stringify({ timerRowId: r.id, taskId: t.id, dueAt: r.dueAt.toISOString() })]),
      [JobName.RollUp, t.parentId, JSON.stringify({ taskId: t.parentId })],
    ];
    await conn.query(
      `INSERT INTO outbox (job_name, aggregate_id, payload, correlation_id) VALUES ${outbox.map(() => '(?, ?, ?, ?)').join(',')}`,
      outbox.flatMap((o) => [...o, correlationId]),
    );
    await conn.query('COMMIT');
  } catch (e) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export interface CeilingRun {
  connections: number;
  txPerSec: number;
  /** CPU milliseconds per transaction of this process (the mysql2 client) and of the MariaDB server. */
  clientCpuMs: number;
  serverCpuMs: number;
}

/** Transactions/s with `connections` connections, each replaying transitions on its own rows for `ms`. */
async function replay(pool: Pool, sets: BenchTask[][], connections: number, ms: number): Promise<CeilingRun> {
  const conns = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
  const servers = await mariadbPids();
  const serverCpu = () => servers.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  try {
    let done = 0;
    const cpu0 = process.cpuUsage();
    const server0 = serverCpu();
    const start = performance.now();
    const until = start + ms;
    await Promise.all(
      conns.map(async (conn, c) => {
        const tasks = sets[c];
        for (let i = 0; performance.now() < until; i++) {
          await transition(conn, tasks[i % tasks.length]);
          done++;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const client = process.cpuUsage(cpu0);
    return {
      connections,
      txPerSec: done / seconds,
      clientCpuMs: (client.user + client.system) / 1000 / done,
      serverCpuMs: ((serverCpu() - server0) * 1000) / done,
    };
  } finally {
    for (const c of conns) c.release();
  }
}

/** The raw MariaDB transition ceiling at each connection count, on a scratch database of its own. */
export async function mariadbTransitionCeiling(opts: { connections: number[]; seconds: number }): Promise<CeilingRun[]> {
  const ceiling = await openTransitionCeiling(Math.max(...opts.connections));
  try {
    const out: CeilingRun[] = [];
    for (const connections of opts.connections) out.push(await ceiling.measure(opts.seconds * 1000, connections));
    return out;
  } finally {
    await ceiling.close();
  }
}

/** The raw transition replay, ready to measure as often as asked (the HTTP phase takes turns with it). */
export interface TransitionCeiling {
  /** Replays for `ms` on `connections` connections (at most the number it was opened with). */
  measure(ms: number, connections?: number): Promise<CeilingRun>;
  /** Ends the pool and drops the scratch database. */
  close(): Promise<void>;
}

/** The raw replay's scratch database (one per bench process). */
export const TRANSITION_CEILING_DATABASE = `gridflow_bench_ceil_${process.pid}`;

/**
 * Builds the raw replay's scratch database (migrated, seeded) and warms it; each `measure` then replays on fresh task
 * rows of its own (prepared before its clock starts). `close` drops the database.
 */
export async function openTransitionCeiling(maxConnections: number): Promise<TransitionCeiling> {
  const database = TRANSITION_CEILING_DATABASE;
  const url = await createScratchDatabase(database);
  const pool = createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: maxConnections, timezone: 'Z', supportBigNumbers: true, charset: 'utf8mb4_unicode_ci' });
  const close = async () => {
    await pool.end().catch(() => undefined);
    await dropDatabase(database);
  };
  try {
    const warm = Math.min(8, maxConnections);
    await replay(pool, await prepareTasks(pool, warm, TASKS_PER_CONNECTION), warm, 500); // the buffer pool and the connections
    return {
      measure: async (ms, connections = maxConnections) => {
        const n = Math.min(connections, maxConnections);
        const sets = await prepareTasks(pool, n, Math.max(TASKS_PER_CONNECTION, Math.ceil(TASKS_PER_MEASURE / n)));
        return replay(pool, sets, n, ms);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// raw BullMQ

type AddMode = 'add' | 'addBulk';

/** Jobs/s for `n` no-op jobs added in `mode` and processed by one worker at `concurrency`. */
async function bullmqRate(opts: { n: number; concurrency: number; mode: AddMode; prefix: string; redisUrl: string }): Promise<number> {
  const name = `ceil-${opts.mode}-${opts.concurrency}`;
  const queue = new Queue(name, { connection: redisOptions(opts.redisUrl, 'producer') as ConnectionOptions, prefix: opts.prefix });
  let processed = 0;
  let finished: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (finished = r));
  const worker = new Worker(
    name,
    async () => {
      if (++processed === opts.n) finished();
    },
    { connection: redisOptions(opts.redisUrl, 'worker') as ConnectionOptions, prefix: opts.prefix, concurrency: opts.concurrency },
  );
  try {
    await worker.waitUntilReady();
    const job = (i: number) => ({ name: JobName.Notify, data: { taskId: `t-${i}`, eventSeq: 1, template: 'bench', to: 'assignee' }, opts: { ...JOB_OPTIONS[JobName.Notify], jobId: `ceil-${i}` } });
    const start = performance.now();
    const step = opts.mode === 'addBulk' ? BULK : ADD_IN_FLIGHT;
    for (let i = 0; i < opts.n; i += step) {
      const batch = Array.from({ length: Math.min(step, opts.n - i) }, (_, k) => job(i + k));
      if (opts.mode === 'addBulk') await queue.addBulk(batch);
      else await Promise.all(batch.map((j) => queue.add(j.name, j.data, j.opts)));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`raw BullMQ: ${processed} of ${opts.n} jobs processed in 120 s`)), 120_000);
    });
    await Promise.race([allDone, timeout]).finally(() => clearTimeout(timer));
    return opts.n / ((performance.now() - start) / 1000);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

export async function runCeilings(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `gfbench-ceil-${process.pid}`;
  const n = opts.quick ? 5_000 : 20_000;
  const figures: BenchFigure[] = [];
  try {
    for (const mode of ['add', 'addBulk'] as const) {
      for (const concurrency of [1, 50]) {
        const rate = await bullmqRate({ n, concurrency, mode, prefix, redisUrl });
        const how = mode === 'add' ? `one add per job, ${ADD_IN_FLIGHT} in flight` : `addBulk of ${BULK}, like the outbox relay`;
        figures.push({ name: `raw BullMQ no-op jobs (${how}), worker concurrency ${concurrency}`, value: Math.round(rate), unit: 'jobs/s' });
      }
    }
  } finally {
    await deleteRedisKeys(redisUrl, prefix);
  }
  const db = await mariadbTransitionCeiling({ connections: [1, 8, 32], seconds: opts.quick ? 3 : 10 });
  for (const r of db) {
    figures.push({ name: `${MARIADB_CEILING_NAME} (accept shape, 9 statements), ${r.connections} connection${r.connections > 1 ? 's' : ''}`, value: Math.round(r.txPerSec), unit: 'tx/s' });
  }
  const best = db.reduce((a, b) => (b.txPerSec > a.txPerSec ? b : a));
  figures.push(
    { name: `raw MariaDB transition CPU per transaction (${best.connections} connections): client (mysql2)`, value: Number(best.clientCpuMs.toFixed(2)), unit: 'ms' },
    { name: `raw MariaDB transition CPU per transaction (${best.connections} connections): MariaDB server (all its work)`, value: Number(best.serverCpuMs.toFixed(2)), unit: 'ms' },
  );
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runCeilings({ quick: process.argv.includes('--quick') })
    .then((figures) => printTable(figures))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 500).unref());
}

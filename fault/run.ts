/**
 * ./scripts/fault entry point (after the build: `node dist/fault/run.js --work=<dir> --logs=<dir> [--short]`).
 *
 * Starts a private MariaDB and Redis, migrates and seeds the demo district, starts the API and the worker as child
 * processes, runs steady load through the API, injects the faults (worker kill -9, Redis restart / FLUSHALL / crash,
 * MariaDB crash / restart) while measuring recovery, stops the load, lets the work drain, then checks the invariants
 * and prints the table. Full runs write fault/results/<date>.json and .md; --short runs write <logs>/results.json.
 * Exits 1 when a target is missed or an invariant fails.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createPool, type Pool } from 'mysql2/promise';
import {
  backgroundMeasures,
  type FaultContext,
  type FaultResult,
  killWorker,
  type MariaDbFault,
  mariadbFault,
  type RedisFault,
  redisFault,
} from './faults.js';
import { ApiClient } from './http.js';
import {
  checkActionEvents,
  checkChains,
  checkMoney,
  checkOutbox,
  checkReplays,
  checkRollUps,
  checkTimers,
  type InvariantResult,
  LATE_MS,
  stuckIdempotencyKeys,
} from './invariants.js';
import { Load, Probe, type Sessions, USERS } from './load.js';
import { markdown, printReport, type RunReport } from './report.js';
import {
  appProcess,
  freePort,
  type Managed,
  PrivateMariaDb,
  PrivateRedis,
  type RunDirs,
  sleep,
  until,
} from './services.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const short = process.argv.includes('--short');
const workArg = arg('work');
const logsArg = arg('logs');
if (!workArg || !logsArg) {
  console.error('usage: node dist/fault/run.js --work=<scratch dir> --logs=<log dir> [--short]  (use ./scripts/fault)');
  process.exit(2);
}
const work: string = workArg;
const logs: string = logsArg;

/** The two forms: the full run, and the short one scripts/test runs. */
const PLAN = short
  ? {
      warmupMs: 10_000,
      settleMs: 5_000,
      timerDueMs: [10_000, 25_000] as [number, number],
      drainMs: 180_000,
      // Redis loses its data after the worker's restart, so the heartbeat check sees whether the schedule came back
      faults: ['worker', 'redis flushall+restart', 'mariadb crash'],
    }
  : {
      warmupMs: 20_000,
      settleMs: 10_000,
      timerDueMs: [20_000, 45_000] as [number, number],
      drainMs: 240_000,
      faults: [
        'worker',
        'worker',
        'redis restart',
        'worker',
        'redis flushall',
        'worker',
        'mariadb crash',
        'worker',
        'redis crash',
        'mariadb restart',
      ],
    };

const started = Date.now();
const log = (msg: string) => console.log(`[fault +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const dirs: RunDirs = { work, logs, pidFile: join(work, 'pids') };
mkdirSync(logs, { recursive: true });

const password = process.env.DEMO_PASSWORD || 'Gridflow@2026';
const children: Managed[] = [];
let db: Pool | null = null;

async function teardown(): Promise<void> {
  await db?.end().catch(() => undefined);
  // the apps first (they would log connection errors otherwise), then the services
  for (const c of [...children].reverse()) await c.stop('SIGTERM', 20_000).catch(() => undefined);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    void teardown().finally(() => process.exit(130));
  });
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().split('\n')[0] ?? cmd;
}

interface Services {
  mariadb: PrivateMariaDb;
  redis: PrivateRedis;
  apiPort: number;
  env: NodeJS.ProcessEnv;
}

/** The private MariaDB and Redis on free ports, and the environment of the apps and CLIs that use them. */
async function startServices(): Promise<Services> {
  const dbPort = await freePort(Number(process.env.FAULT_DB_PORT ?? 3317));
  const redisPort = await freePort(Number(process.env.FAULT_REDIS_PORT ?? 6390), [dbPort]);
  const apiPort = await freePort(Number(process.env.FAULT_API_PORT ?? 3417), [dbPort, redisPort]);
  const mariadb = new PrivateMariaDb(dirs, dbPort);
  const redis = new PrivateRedis(dirs, redisPort);
  children.push(mariadb.proc, redis.proc);
  log(
    `private MariaDB on 127.0.0.1:${dbPort}, Redis on 127.0.0.1:${redisPort}, API on 127.0.0.1:${apiPort}; logs in ${logs}`,
  );
  mariadb.install();
  mariadb.start();
  redis.start();
  await Promise.all([mariadb.waitReady(), redis.waitReady()]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'warn',
    PORT: String(apiPort),
    DATABASE_URL: `${mariadb.url}/gridflow_fault`,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'gffault',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    // production requires a key for webhook secrets at rest
    WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex'),
    JWT_ACCESS_TTL_SECONDS: '7200',
    PASSWORD_SCRYPT_LOG2N: '12',
    DEMO_PASSWORD: password,
  };
  for (const cli of ['migrate', 'seed']) {
    const r = spawnSync(process.execPath, [`dist/libs/persistence/src/cli/${cli}.js`], { env, encoding: 'utf8' });
    writeFileSync(join(logs, `${cli}.log`), `${r.stdout}${r.stderr}`);
    if (r.status !== 0) throw new Error(`${cli} failed:\n${r.stdout}${r.stderr}`);
  }
  log('migrated and seeded gridflow_fault');
  db = createPool({
    host: '127.0.0.1',
    port: dbPort,
    user: 'root',
    database: 'gridflow_fault',
    timezone: 'Z',
    connectionLimit: 4,
    connectTimeout: 2000,
  });
  return { mariadb, redis, apiPort, env };
}

/** The API and the worker as child processes, once the API is healthy and the worker has started. */
async function startApps(s: Services): Promise<{ api: Managed; worker: Managed }> {
  const api = appProcess('api', dirs, s.env);
  const worker = appProcess('worker', dirs, s.env);
  children.push(api, worker);
  api.start();
  worker.start();
  const apiUp = await until(
    async () => (await fetch(`http://127.0.0.1:${s.apiPort}/health`)).status === 200,
    90_000,
    200,
  );
  if (apiUp === null) throw new Error(`the API did not become healthy:\n${api.tail()}`);
  const workerUp = await until(
    () => existsSync(worker.logPath) && readFileSync(worker.logPath, 'utf8').includes('started'),
    90_000,
    200,
  );
  if (workerUp === null) throw new Error(`the worker did not start:\n${worker.tail()}`);
  log('API and worker are up');
  return { api, worker };
}

/** Injects the plan's faults one after the other under the running load; a process that died on its own is restarted. */
async function runFaults(ctx: FaultContext, load: Load, apps: Managed[]): Promise<FaultResult[]> {
  const faults: FaultResult[] = [];
  let kills = 0;
  for (const [i, f] of PLAN.faults.entries()) {
    // the last fault: timer tasks opened from now on must come due before the drain
    if (i === PLAN.faults.length - 1) load.timerCutoff = Date.now() + 10_000;
    for (const p of apps) if (!p.running) p.start();
    if (f === 'worker') faults.push(await killWorker(ctx, ++kills));
    else if (f.startsWith('redis ')) faults.push(await redisFault(ctx, f.slice(6) as RedisFault));
    else faults.push(await mariadbFault(ctx, f.slice(8) as MariaDbFault));
    await sleep(PLAN.settleMs);
  }
  return faults;
}

async function count(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const [r] = await pool.query(sql, params);
  return Number(Object.values((r as Record<string, unknown>[])[0])[0]);
}

/**
 * Waits until the short timers are all due and, twice in a row a second apart, nothing is unsent, unapplied or past
 * due. Returns how long it took, or null at the deadline.
 */
async function drain(pool: Pool): Promise<{ drainedMs: number | null; elapsedMs: number }> {
  const start = Date.now();
  const [[{ lastDue }]] = (await pool.query(
    "SELECT MAX(due_at) AS lastDue FROM task_timers WHERE due_at < ? AND status <> 'cancelled'",
    [new Date(Date.now() + 600_000)],
  )) as unknown as [{ lastDue: Date | null }[]];
  const quiet = async () => {
    const now = Date.now();
    if (lastDue && now < new Date(lastDue).getTime() + 2_000) return false;
    const pending =
      (await count(pool, 'SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL')) +
      (await count(
        pool,
        "SELECT COUNT(*) FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id WHERE o.job_name <> 'fire-timer' AND a.outbox_id IS NULL",
      )) +
      (await count(pool, "SELECT COUNT(*) FROM task_timers WHERE status = 'pending' AND due_at < ?", [
        new Date(now - 2_000),
      ]));
    return pending === 0;
  };
  let calm = 0;
  const drainedMs = await until(async () => ((await quiet()) ? ++calm >= 2 : ((calm = 0), false)), PLAN.drainMs, 1_000);
  return { drainedMs, elapsedMs: Date.now() - start };
}

/** The worker's heartbeat is at most 25 s old (it beats every 10 s; its schedule lives only in Redis). */
async function checkHeartbeat(pool: Pool): Promise<InvariantResult> {
  const [[{ lastBeat }]] = (await pool.query('SELECT MAX(beat_at) AS lastBeat FROM worker_heartbeats')) as unknown as [
    { lastBeat: Date | null }[],
  ];
  const ageS = lastBeat ? Math.round((Date.now() - new Date(lastBeat).getTime()) / 1000) : null;
  const ok = ageS !== null && ageS <= 25;
  return {
    name: 'the worker’s heartbeat is current (its schedule survived Redis)',
    ok,
    checked: `last beat ${ageS === null ? 'never' : `${ageS} s ago`} (every 10 s)`,
    violations: ok ? [] : ['the heartbeat schedule was not restored after Redis lost its data'],
  };
}

/** Late timers by the faults that may have delayed them: those begun between a minute before they were due and their firing. */
function lateTimerFinding(invariants: InvariantResult[], faults: FaultResult[]): string | null {
  const late = invariants.flatMap((i) => i.lateTimers ?? []);
  if (!late.length) return null;
  const byFaults: Record<string, { n: number; maxS: number }> = {};
  for (const t of late) {
    const near = faults.filter((f) => f.at <= t.firedAt && f.at >= t.dueAt - 60_000).map((f) => f.name);
    const e = (byFaults[near.join(' + ') || 'no fault'] ??= { n: 0, maxS: 0 });
    e.n += 1;
    e.maxS = Math.max(e.maxS, Math.round((t.firedAt - t.dueAt) / 1000));
  }
  const parts = Object.entries(byFaults).map(([k, v]) => `${v.n} after ${k} (up to ${v.maxS} s)`);
  return `${late.length} timers fired more than ${LATE_MS / 1000} s late: ${parts.join('; ')}`;
}

/** Counts by a key, as JSON (for the findings). */
function tally<T>(items: T[], key: (t: T) => string): string | null {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return items.length ? JSON.stringify(out) : null;
}

async function findingsOf(
  pool: Pool,
  client: ApiClient,
  load: Load,
  invariants: InvariantResult[],
  faults: FaultResult[],
): Promise<string[]> {
  const findings: string[] = [];
  const late = lateTimerFinding(invariants, faults);
  if (late) findings.push(late);
  const stuckKeys = await stuckIdempotencyKeys(pool, new Date());
  if (stuckKeys)
    findings.push(
      `${stuckKeys} idempotency keys are left "in progress" by requests that died with the database; a retry gets 409 "in progress" until the key is a minute old (IDEMPOTENCY_STALE_MS), then 409 IDEMPOTENCY_OUTCOME_UNKNOWN`,
    );
  const unknown = tally(
    client.actions.filter((a) => a.outcome === 'unknown'),
    (a) => a.code ?? '?',
  );
  if (unknown) findings.push(`writes of unknown outcome: ${unknown}`);
  const refused = tally(
    client.actions.filter((a) => a.outcome === 'refused'),
    (a) => `${a.action} ${a.code}`,
  );
  if (refused) findings.push(`refused writes: ${refused}`);
  if (load.errors.length)
    findings.push(`load errors (${load.errors.length}), first: ${load.errors.slice(0, 3).join(' | ')}`);
  return findings;
}

const faultOk = (f: FaultResult) =>
  f.met &&
  (f.outage?.met ?? true) &&
  (f.lostWorkTargetMs === undefined || (f.lostWorkRedoneMs != null && f.lostWorkRedoneMs <= f.lostWorkTargetMs));

function writeResults(report: RunReport, client: ApiClient): void {
  writeFileSync(join(logs, 'actions.json'), JSON.stringify(client.actions.map(({ request: _r, ...a }) => a)));
  writeFileSync(join(logs, 'samples.json'), JSON.stringify(client.samples));
  if (short) {
    writeFileSync(join(logs, 'results.json'), JSON.stringify(report, null, 2));
    console.log(`\nwritten ${join(logs, 'results.json')}`);
    return;
  }
  const stamp = report.at.replace(/[:.]/g, '-');
  mkdirSync('fault/results', { recursive: true });
  writeFileSync(`fault/results/${stamp}.json`, JSON.stringify(report, null, 2));
  writeFileSync(`fault/results/${stamp}.md`, markdown(report));
  console.log(`\nwritten fault/results/${stamp}.json and .md (logs in ${logs})`);
}

async function main(): Promise<boolean> {
  const services = await startServices();
  const { api, worker } = await startApps(services);
  const pool = db as Pool;

  const client = new ApiClient(`http://127.0.0.1:${services.apiPort}`, randomBytes(3).toString('hex'));
  const list = await Promise.all(USERS.map((u) => client.login(u, password)));
  const sessions = Object.fromEntries(list.map((s) => [s.username, s])) as Sessions;
  const probe = new Probe(client, sessions);
  await probe.setup();
  const baseline = await probe.measure(30_000);
  if (baseline.appliedAt === null)
    throw new Error('the probe never saw its roll-up before any fault: the pipeline is broken');
  log(`probe baseline (no fault): ${baseline.appliedAt - baseline.ackedAt} ms from report to roll-up`);

  const load = new Load(client, sessions, { thinkMs: 100, timerDueMs: PLAN.timerDueMs });
  load.start();
  log(`load started; warming up ${PLAN.warmupMs / 1000} s`);
  await sleep(PLAN.warmupMs);
  const ctx: FaultContext = {
    api: client,
    admin: sessions.admin,
    probe,
    db: pool,
    worker,
    mariadb: services.mariadb,
    redis: services.redis,
    queuePrefix: `${services.env.REDIS_PREFIX}-bull`,
    downMs: 4_000,
    measureMs: 90_000,
    log,
  };
  const faults = await runFaults(ctx, load, [api, worker]);
  load.timerCutoff = Math.min(load.timerCutoff, Date.now());
  log('faults done; stopping the load');
  await load.stop();

  for (const p of [api, worker]) if (!p.running) p.start();
  const drainStart = Date.now();
  const { drainedMs, elapsedMs } = await drain(pool);
  log(
    drainedMs === null
      ? `the work did not drain within ${PLAN.drainMs / 1000} s; checking anyway`
      : `drained in ${(elapsedMs / 1000).toFixed(1)} s`,
  );
  await Promise.race([Promise.all(backgroundMeasures), sleep(5_000)]);

  const checkpoint = new Date(Date.now() - 2_000);
  const invariants: InvariantResult[] = [];
  invariants.push(await checkReplays(client, new Map(list.map((s) => [s.username, s])), client.actions));
  invariants.push(await checkActionEvents(pool, client.actions));
  invariants.push(await checkOutbox(pool));
  invariants.push(await checkRollUps(pool));
  invariants.push(await checkMoney(pool));
  invariants.push(await checkTimers(pool, checkpoint));
  const touched = client.actions.flatMap((a) => [a.taskId, ...a.createdIds]).filter((x): x is string => !!x);
  invariants.push(await checkChains(pool, client, sessions.admin, touched));
  invariants.push(await checkHeartbeat(pool));
  const exits = [...api.unexpectedExits, ...worker.unexpectedExits];
  const kills = faults.filter((f) => f.service === 'worker').length;
  invariants.push({
    name: 'the API and the worker survived every fault (no exit of their own)',
    ok: exits.length === 0,
    checked: `${api.unexpectedExits.length + 1} API and ${worker.unexpectedExits.length + kills + 1} worker processes`,
    violations: exits,
  });
  invariants.push({
    name: 'the work drained after the load stopped',
    ok: drainedMs !== null,
    checked: `${(elapsedMs / 1000).toFixed(1)} s (deadline ${PLAN.drainMs / 1000} s)`,
    violations: drainedMs === null ? ['outbox rows, effects or due timers were still pending at the deadline'] : [],
  });

  const acked = client.actions.filter((a) => a.outcome === 'acked').length;
  const report: RunReport = {
    at: new Date().toISOString(),
    mode: short ? 'short' : 'full',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      mariadb: version(process.env.FAULT_MARIADBD ?? '/usr/sbin/mariadbd', ['--version']),
      redis: version(process.env.FAULT_REDIS_SERVER ?? 'redis-server', ['--version']),
    },
    durationS: Math.round((Date.now() - started) / 1000),
    load: {
      lifecyclesStarted: load.lifecycles.started,
      lifecyclesCompleted: load.lifecycles.completed,
      writesAcknowledged: acked,
      requests: client.samples.length,
      writesPerSecond: Math.round(acked / Math.max(1, (drainStart - started) / 1000)),
      drainSeconds: Math.round(elapsedMs / 100) / 10,
      probeBaselineMs: baseline.appliedAt - baseline.ackedAt,
    },
    faults,
    invariants,
    findings: await findingsOf(pool, client, load, invariants, faults),
    ok: faults.every(faultOk) && invariants.every((i) => i.ok),
  };
  printReport(report);
  writeResults(report, client);
  console.log(report.ok ? 'fault run: every target met, every invariant holds' : 'fault run: FAILED (see above)');
  return report.ok;
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  console.error(`[fault] ${(e as Error).stack ?? String(e)}`);
} finally {
  await teardown();
}
process.exit(ok ? 0 : 1);

/**
 * Phase 3 — end to end over HTTP: the production API and worker as separate processes (`node
 * dist/apps/api/src/main.js`, `node dist/apps/worker/src/main.js`) on a scratch database (`gridflow_bench_http`,
 * migrated and seeded with the demo district, dropped at the end), their own Redis prefix (keys deleted at the end)
 * and a free port. Every user logs in once up front (login is scrypt-hashed and rate limited; it is not measured).
 *
 * Throughput: the handoff lifecycle of config/workflows/handoff.json, many lifecycles at once, each as the e2e
 * scenarios drive it: a unit leader creates a funded task of its own (`SANITATION_GRID_CLEANING`, 3,000 fen from the
 * unit's budget), hands it to its three subordinate units in one request (1,000 fen each; the category is their own
 * duty, so no grants), each receiver accepts, reports progress and submits, the leader approves each child (its
 * unspent escrow settles back to the parent), then submits and approves the parent (the rest settles back to the
 * budget). Eight teams take turns: the two streets hand to their communities (community leaders act), the six
 * communities to their grids (grid workers act). That is 16 durable transitions per lifecycle — every successful
 * state-changing request counts as one (the handoff request that creates three children counts once). Reported
 * as transitions/s completed inside the measured windows (after a warm-up). The lifecycles take turns with the raw
 * MariaDB transition replay of phase 1 (`openTransitionCeiling`, 32 connections): after each window they pause — no
 * new request goes out, those in flight finish, the API and the worker go quiet — and the replay runs alone, then
 * the lifecycles go on. The ratio is the windows' rate over the replays' mean rate, each round's ratio reported too:
 * both sides are measured in turns over the same two minutes, so the ratio does not swing with this VM's speed from
 * minute to minute the way a ceiling measured minutes earlier made it swing.
 *
 * Latency: an open-loop stream at a fixed arrival rate (500 requests/s): 70 % reads (GET /tasks?view=inbox as a
 * receiver, GET /tasks/:id of an in-progress task) and 30 % writes (report-progress on in-progress tasks, task
 * creation by a unit leader). Latency runs from the scheduled send time to the end of the response, so a slow
 * server cannot hide behind a slowed-down sender. Any 4xx/5xx or timeout is a failure, counted and reported. The
 * p99s and the CPU of the API, MariaDB, the worker and the machine are also reported per 5-second stretch of the
 * run (by when a request was due to go out), to tell a steady tail from a few slow seconds.
 *
 * What bounds the figures: while the throughput and latency runs are measured, the CPU time of the API, the worker,
 * the MariaDB and Redis servers, this process (the load generator) and the whole machine is read from /proc and
 * reported in cores, and per transition; before the latency run each request kind is sent one at a time to report
 * the API CPU it costs with no queueing.
 *
 * With the ceilings phase before it, the ratio to that phase's 32-connection figure is reported too. BENCH_LOG_DIR=<dir> keeps the API's and the
 * worker's output there; BENCH_NODE_ARGS adds node options to both (e.g. `--import` of a profiler).
 * Run after the build: `node dist/bench/http-lifecycle.js [--quick]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { SERVICE_NODE_FLAGS } from '@gridflow/common';
import {
  cpuSeconds,
  createScratchDatabase,
  deleteRedisKeys,
  dropDatabase,
  machineBusySeconds,
  mariadbPids,
  openTransitionCeiling,
  TRANSITION_CEILING_DATABASE,
  phaseTransitionCeiling,
  processTree,
  freePort,
  redisPids,
  serverUrl,
  type TransitionCeiling,
} from './ceilings.js';
import { printTable, type BenchFigure } from './report.js';

/** The environment as the bench started (later phases may change process.env for their in-process apps). */
const BASE_ENV: NodeJS.ProcessEnv = { ...process.env };

const DATABASE = 'gridflow_bench_http';
const TRANSITIONS_PER_LIFECYCLE = 16;
const TARGET_TRANSITIONS = 1_000;
const TARGET_RATIO = 0.4;
const RATE = 500;
const READ_P99_MS = 50;
const WRITE_P99_MS = 100;
/** A request of the lifecycle run that takes longer fails; the open-loop run gives up sooner (its p99 target is 100 ms). */
const REQUEST_TIMEOUT_MS = 30_000;
const OPEN_LOOP_TIMEOUT_MS = 10_000;
const CATEGORY = 'SANITATION_GRID_CLEANING';
const PASSWORD = BASE_ENV.DEMO_PASSWORD ?? 'Gridflow@2026';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : NaN;

// ---------------------------------------------------------------------------------------------------------------
// a small keep-alive HTTP client (cheap on CPU: the load generator shares the machine with what it measures)

interface Reply {
  status: number;
  text: string;
}

class Http {
  // idle sockets are closed after 4 s, before the server's 5 s keep-alive timeout, so a request never goes out on a
  // socket the server is closing at that moment (which would fail with ECONNRESET through no fault of the API)
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1024, timeout: 4_000 });
  constructor(
    private readonly port: number,
    readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  send(method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolvePromise, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Failed requests by what they answered (status and error code), for the report and the log. */
class Failures {
  readonly byKind = new Map<string, number>();
  count = 0;
  add(kind: string): void {
    this.count++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }
  summary(): string {
    return [...this.byKind].map(([k, n]) => `${k} ×${n}`).join(', ');
  }
}

const failureKind = (r: Reply): string => {
  try {
    return `${r.status} ${(JSON.parse(r.text) as { code?: string }).code ?? ''}`.trim();
  } catch {
    return String(r.status);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// the API and worker processes

interface Service {
  name: string;
  child: ChildProcess;
  log: string[];
}

const distPath = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));

function startService(name: string, script: string, env: NodeJS.ProcessEnv): Service {
  const extra = (BASE_ENV.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // the Node flags scripts/start runs the services with, then any of the benchmark's own
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...extra, distPath(script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  // BENCH_LOG_DIR=<dir> keeps the whole output of each process there
  const file = BASE_ENV.BENCH_LOG_DIR ? createWriteStream(`${BASE_ENV.BENCH_LOG_DIR}/${name}-${process.pid}.log`) : null;
  const keep = (b: Buffer) => {
    file?.write(b);
    log.push(b.toString('utf8'));
    if (log.length > 200) log.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, log };
}

const tail = (s: Service) => s.log.join('').split('\n').slice(-15).join('\n');

async function waitUntil(what: string, services: Service[], check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const s of services) if (s.child.exitCode !== null) throw new Error(`the ${s.name} exited (${s.child.exitCode}) before ${what}:\n${tail(s)}`);
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
}

async function stopService(s: Service): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!killed) {
    s.child.kill('SIGKILL');
    await exited;
  }
}

type CpuSample = Record<string, number>;
const MACHINE = 'the whole machine (every process, anyone’s)';

function sampleCpu(groups: Record<string, number[]>): CpuSample {
  const out: CpuSample = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  out[MACHINE] = machineBusySeconds();
  return out;
}

/**
 * What the scratch database's connections are doing, for the log when requests time out: an API whose pool
 * connections all sit idle inside open transactions is waiting for something outside the database (typically a
 * second pool connection requested inside a transaction); connections waiting for locks point at lock contention.
 */
async function connectionStates(database: string): Promise<string> {
  const conn = await createConnection({ uri: serverUrl() });
  try {
    const [[row]] = await conn.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(p.command = 'Sleep' AND t.trx_id IS NOT NULL), 0) AS idle,
              COALESCE(SUM(t.trx_state = 'LOCK WAIT'), 0) AS waiting
         FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.id
        WHERE p.db = ?`,
      [database],
    );
    return `${row.n} connections to ${database}: ${row.idle} idle inside an open transaction, ${row.waiting} waiting for a lock`;
  } finally {
    await conn.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// users and teams

interface Session {
  username: string;
  token: string;
  orgUnitId: string;
}

interface Team {
  owner: Session;
  /** The three receiving units and who acts for each. */
  children: { orgUnitId: string; actor: Session }[];
}

async function login(http: Http, username: string): Promise<Session> {
  const r = await http.send('POST', '/api/v1/auth/login', undefined, { username, password: PASSWORD });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text.slice(0, 200)}`);
  const body = JSON.parse(r.text) as { accessToken: string; user: { orgUnitId: string } };
  return { username, token: body.accessToken, orgUnitId: body.user.orgUnitId };
}

/** The two streets with their communities (community leaders act) and the six communities with their grids (grid workers act). */
async function buildTeams(http: Http): Promise<Team[]> {
  const specs: { owner: string; children: string[] }[] = [];
  for (const street of ['xh-jd1', 'xh-jd2']) {
    const communities = ['sq1', 'sq2', 'sq3'].map((c) => `${street}-${c}`);
    specs.push({ owner: `${street}-leader`, children: communities.map((c) => `${c}-leader`) });
    for (const c of communities) specs.push({ owner: `${c}-leader`, children: ['wg1', 'wg2', 'wg3'].map((g) => `${c}-${g}-worker`) });
  }
  const sessions = new Map<string, Session>();
  for (const name of new Set(specs.flatMap((s) => [s.owner, ...s.children]))) sessions.set(name, await login(http, name));
  return specs.map((s) => ({
    owner: sessions.get(s.owner)!,
    children: s.children.map((c) => ({ orgUnitId: sessions.get(c)!.orgUnitId, actor: sessions.get(c)! })),
  }));
}

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

// ---------------------------------------------------------------------------------------------------------------
// throughput: whole lifecycles, many at once

class Stopped extends Error {}

interface Tally {
  /** Completion times (ms, performance.now()) and latencies of successful state-changing requests. */
  done: { at: number; ms: number }[];
  failures: Failures;
  lifecycles: number[];
  stopAt: number;
  /** While set, the run is paused: no request goes out until it resolves. */
  gate?: Promise<void> | null;
  /** Requests sent and not yet answered. */
  inFlight?: number;
}

/** A state-changing request; returns the parsed body, throws on failure (counted) or when the run is over. */
async function transition<T>(http: Http, tally: Tally, method: string, path: string, who: Session, body: unknown): Promise<T> {
  while (tally.gate) await tally.gate;
  if (performance.now() >= tally.stopAt) throw new Stopped();
  const t0 = performance.now();
  let r: Reply;
  tally.inFlight = (tally.inFlight ?? 0) + 1;
  try {
    r = await http.send(method, path, who.token, body);
  } catch (e) {
    tally.failures.add((e as Error).message);
    throw new Error(`${method} ${path.replace(/[0-9a-f-]{36}/g, ':id')}: ${(e as Error).message}`, { cause: e });
  } finally {
    tally.inFlight -= 1;
  }
  const t1 = performance.now();
  if (r.status < 200 || r.status >= 300) {
    tally.failures.add(failureKind(r));
    throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  tally.done.push({ at: t1, ms: t1 - t0 });
  return (r.text ? JSON.parse(r.text) : {}) as T;
}

/** One full handoff lifecycle of a team: 16 transitions. */
async function lifecycle(http: Http, tally: Tally, team: Team, n: number): Promise<void> {
  const act = (id: string, action: string, who: Session, body: unknown) =>
    transition(http, tally, 'POST', `/api/v1/tasks/${id}/actions/${action}`, who, body);
  const root = await transition<{ id: string }>(http, tally, 'POST', '/api/v1/tasks', team.owner, {
    title: `网格环境卫生清洁 第${n}轮`,
    categoryCode: CATEGORY,
    dueAt: inDays(30),
    fundingFen: 3000,
  });
  const handed = await transition<{ items: { id: string }[] }>(http, tally, 'POST', `/api/v1/tasks/${root.id}/handoffs`, team.owner, {
    handoffs: team.children.map((c) => ({ assigneeOrgUnitId: c.orgUnitId, fundingFen: 1000, grants: [] })),
  });
  await Promise.all(
    handed.items.map(async (child, i) => {
      const actor = team.children[i].actor;
      await act(child.id, 'accept', actor, {});
      await act(child.id, 'report-progress', actor, { percent: 60, note: '已完成主要路段清扫' });
      await act(child.id, 'submit', actor, { summary: '清洁完成，已拍照留档' });
      await act(child.id, 'approve', team.owner, {});
    }),
  );
  await act(root.id, 'submit', team.owner, { summary: '辖区清洁全部完成' });
  await act(root.id, 'approve', team.owner, {});
  tally.lifecycles.push(performance.now());
}

/** One turn of the throughput run: a window of lifecycles, then the raw replay alone. */
interface Round {
  gridflowPerSec: number;
  ceilingPerSec: number;
  ratio: number;
  /** How long the pause before the replay waited for the requests in flight and for the API and worker to go quiet. */
  settleMs: number;
  /** Whether they did go quiet (else the replay started after QUIET_MAX_WAIT_MS anyway). */
  quiet: boolean;
}

/** After a window, the lifecycles resume this long before the next window starts counting. */
const RAMP_MS = 1_000;
/** The API and the worker together below this many busy cores count as quiet before the replay. */
const QUIET_SERVICE_CORES = 0.05;
const QUIET_MAX_WAIT_MS = 5_000;

/**
 * Waits (up to QUIET_MAX_WAIT_MS after the last request answered) until the API and the worker are idle; returns how
 * long it waited and whether they went quiet. (MariaDB's own background work after the window is not waited for.)
 */
async function quietServices(tally: Tally, cpuGroups: Record<string, number[]>): Promise<{ ms: number; quiet: boolean }> {
  const start = performance.now();
  const answered = start + 30_000;
  while ((tally.inFlight ?? 0) > 0 && performance.now() < answered) await sleep(10);
  const until = performance.now() + QUIET_MAX_WAIT_MS;
  const busy = () => [...cpuGroups.API, ...cpuGroups.worker].reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  let quiet = false;
  while (!quiet && performance.now() < until) {
    const before = busy();
    await sleep(250);
    quiet = (busy() - before) / 0.25 < QUIET_SERVICE_CORES; // NaN (a process gone) is never quiet
  }
  return { ms: performance.now() - start, quiet };
}

/**
 * `inFlight` lifecycles back to back; after a warm-up, `rounds` turns of a counted window of `windowMs` followed by
 * the raw replay for `replayMs` with the lifecycles paused (see the file's header).
 */
async function runLifecycles(
  http: Http,
  teams: Team[],
  opts: {
    inFlight: number;
    warmupMs: number;
    rounds: number;
    windowMs: number;
    replayMs: number;
    ceiling: TransitionCeiling;
    cpuGroups: Record<string, number[]>;
  },
) {
  const tally: Tally = { done: [], failures: new Failures(), lifecycles: [], stopAt: Infinity, gate: null, inFlight: 0 };
  let n = 0;
  const loops = Promise.all(
    Array.from({ length: opts.inFlight }, async (_, slot) => {
      while (performance.now() < tally.stopAt) {
        try {
          await lifecycle(http, tally, teams[slot % teams.length], n++);
        } catch (e) {
          if (!(e instanceof Stopped) && tally.failures.count <= 3) console.error(`[bench] http lifecycle: ${(e as Error).message}`);
        }
      }
    }),
  );
  const windows: { from: number; to: number }[] = [];
  const rounds: Round[] = [];
  const cpu: Record<string, number> = {};
  try {
    await sleep(opts.warmupMs);
    for (let r = 0; r < opts.rounds; r++) {
      if (r > 0) await sleep(RAMP_MS);
      const before = sampleCpu(opts.cpuGroups);
      const from = performance.now();
      await sleep(opts.windowMs);
      const to = performance.now();
      const after = sampleCpu(opts.cpuGroups);
      for (const k of Object.keys(before)) cpu[k] = (cpu[k] ?? 0) + after[k] - before[k];
      windows.push({ from, to });
      let open: () => void = () => undefined;
      tally.gate = new Promise<void>((resolve) => (open = resolve));
      try {
        const settled = await quietServices(tally, opts.cpuGroups);
        const replay = await opts.ceiling.measure(opts.replayMs);
        const gridflowPerSec = tally.done.filter((d) => d.at >= from && d.at < to).length / ((to - from) / 1000);
        rounds.push({ gridflowPerSec, ceilingPerSec: replay.txPerSec, ratio: gridflowPerSec / replay.txPerSec, settleMs: settled.ms, quiet: settled.quiet });
      } finally {
        tally.gate = null;
        open();
      }
    }
  } finally {
    tally.stopAt = performance.now();
    await loops;
  }
  const inWindows = (at: number) => windows.some((w) => at >= w.from && at < w.to);
  const done = tally.done.filter((d) => inWindows(d.at));
  const seconds = windows.reduce((sum, w) => sum + (w.to - w.from), 0) / 1000;
  const lat = done.map((d) => d.ms).sort((a, b) => a - b);
  for (const k of Object.keys(cpu)) cpu[k] /= seconds;
  const transitionsPerSec = done.length / seconds;
  // every replay runs equally long: their mean rate is the rate over all of them
  const ceilingPerSec = rounds.reduce((sum, r) => sum + r.ceilingPerSec, 0) / rounds.length;
  return {
    transitionsPerSec,
    lifecyclesPerSec: tally.lifecycles.filter(inWindows).length / seconds,
    rounds,
    ceilingPerSec,
    /** The windows' rate over the replays' mean rate. */
    ratio: transitionsPerSec / ceilingPerSec,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    failures: tally.failures,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// latency at a fixed arrival rate (open loop)

interface PoolTask {
  id: string;
  actor: Session;
}

/** In-progress child tasks to read and report progress on: `perTeam` handed-off tasks per team, each child accepted. */
async function latencyPool(http: Http, teams: Team[], perTeam: number): Promise<PoolTask[]> {
  const tally: Tally = { done: [], failures: new Failures(), lifecycles: [], stopAt: Infinity };
  const pool: PoolTask[] = [];
  await Promise.all(
    teams.map(async (team) => {
      for (let r = 0; r < perTeam; r++) {
        const root = await transition<{ id: string }>(http, tally, 'POST', '/api/v1/tasks', team.owner, { title: '延迟测试任务', categoryCode: CATEGORY, dueAt: inDays(30), fundingFen: 3000 });
        const handed = await transition<{ items: { id: string }[] }>(http, tally, 'POST', `/api/v1/tasks/${root.id}/handoffs`, team.owner, {
          handoffs: team.children.map((c) => ({ assigneeOrgUnitId: c.orgUnitId, fundingFen: 1000, grants: [] })),
        });
        for (const [i, child] of handed.items.entries()) {
          await transition(http, tally, 'POST', `/api/v1/tasks/${child.id}/actions/accept`, team.children[i].actor, {});
          pool.push({ id: child.id, actor: team.children[i].actor });
        }
      }
    }),
  );
  return pool;
}

type Kind = 'inbox' | 'detail' | 'progress' | 'create';
/** 70 % reads, 30 % writes, interleaved. */
const MIX: Kind[] = ['inbox', 'detail', 'progress', 'inbox', 'detail', 'create', 'inbox', 'detail', 'progress', 'detail'];
const KINDS: Kind[] = ['detail', 'inbox', 'progress', 'create'];
const KIND_LABEL: Record<Kind, string> = {
  detail: 'GET /tasks/:id',
  inbox: 'GET /tasks?view=inbox',
  progress: 'POST report-progress',
  create: 'POST /tasks (create)',
};
const isRead = (k: Kind) => k === 'inbox' || k === 'detail';

/** The requests of the latency run: reads as the receivers, progress on in-progress tasks, creation by a leader. */
class Workload {
  private progressTurn = 0;
  private createTurn = 0;
  private readTurn = 0;
  constructor(
    private readonly http: Http,
    private readonly teams: Team[],
    private readonly pool: PoolTask[],
  ) {}

  send(kind: Kind): Promise<Reply> {
    const { http, pool } = this;
    if (kind === 'inbox') {
      const t = pool[this.readTurn++ % pool.length];
      return http.send('GET', '/api/v1/tasks?view=inbox&limit=20', t.actor.token);
    }
    if (kind === 'detail') {
      const t = pool[(this.readTurn++ * 7) % pool.length];
      return http.send('GET', `/api/v1/tasks/${t.id}`, t.actor.token);
    }
    if (kind === 'progress') {
      const k = this.progressTurn++;
      const t = pool[k % pool.length];
      return http.send('POST', `/api/v1/tasks/${t.id}/actions/report-progress`, t.actor.token, { percent: 1 + (k % 99) });
    }
    const team = this.teams[this.createTurn++ % this.teams.length];
    return http.send('POST', '/api/v1/tasks', team.owner.token, { title: '日常巡查任务', categoryCode: CATEGORY, dueAt: inDays(30), fundingFen: 100 });
  }
}

/** API CPU milliseconds per request of each kind, one request at a time (what a request costs, without queueing). */
async function cpuPerRequest(work: Workload, apiPids: number[], n: number): Promise<Record<Kind, number>> {
  const apiCpu = () => apiPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const out = {} as Record<Kind, number>;
  for (const kind of KINDS) {
    for (let i = 0; i < 5; i++) await work.send(kind);
    const before = apiCpu();
    for (let i = 0; i < n; i++) {
      const r = await work.send(kind);
      if (r.status >= 300) throw new Error(`${KIND_LABEL[kind]}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    out[kind] = ((apiCpu() - before) * 1000) / n;
  }
  return out;
}

/** The open loop's stretches: latency by when a request was due to go out, with the CPU used meanwhile. */
const WINDOW_S = 5;

async function openLoop(
  work: Workload,
  opts: { rate: number; seconds: number; timeoutMs: number; cpuGroups: Record<string, number[]> },
) {
  const reads: number[] = [];
  const writes: number[] = [];
  const failures = new Failures();
  const total = Math.round(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const inFlight = new Set<Promise<void>>();
  const perWindow = Array.from({ length: Math.ceil(opts.seconds / WINDOW_S) }, () => ({ reads: [] as number[], writes: [] as number[] }));
  /** CPU samples at each window's start (and after the last request went out). */
  const cpuMarks: CpuSample[] = [sampleCpu(opts.cpuGroups)];

  const fire = (i: number, scheduled: number) => {
    const kind = MIX[i % MIX.length];
    const window = perWindow[Math.min(perWindow.length - 1, Math.floor((i * interval) / 1000 / WINDOW_S))];
    const call = work.send(kind);
    const p = call.then(
      (r) => {
        const ms = performance.now() - scheduled;
        if (r.status >= 200 && r.status < 300) {
          (isRead(kind) ? reads : writes).push(ms);
          (isRead(kind) ? window.reads : window.writes).push(ms);
        } else failures.add(`${kind} ${failureKind(r)}`);
      },
      (e: Error) => failures.add(`${kind} ${e.message}`),
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  const start = performance.now() + 10;
  let sent = 0;
  let lastSent = start;
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + sent * interval <= now) {
      if (sent && Math.floor((sent * interval) / 1000 / WINDOW_S) > Math.floor(((sent - 1) * interval) / 1000 / WINDOW_S)) {
        cpuMarks.push(sampleCpu(opts.cpuGroups));
      }
      fire(sent, start + sent * interval);
      sent++;
      lastSent = now;
    }
    await sleep(1);
  }
  cpuMarks.push(sampleCpu(opts.cpuGroups));
  const drainUntil = Date.now() + opts.timeoutMs + 1000;
  while (inFlight.size && Date.now() < drainUntil) await Promise.race([...inFlight, sleep(100)]);
  reads.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  const p99 = (xs: number[]) => (xs.length ? quantile([...xs].sort((a, b) => a - b), 0.99) : NaN);
  const windows = perWindow.map((w, i) => ({
    from: i * WINDOW_S,
    to: Math.min(opts.seconds, (i + 1) * WINDOW_S),
    readP99: p99(w.reads),
    writeP99: p99(w.writes),
    /** Busy cores from the window's first send to the next window's (the last: to the last send). */
    cores: Object.fromEntries(
      Object.keys(cpuMarks[0]).map((who) => [who, (cpuMarks[i + 1][who] - cpuMarks[i][who]) / Math.min(WINDOW_S, opts.seconds - i * WINDOW_S)]),
    ),
  }));
  return {
    windows,
    reads: { p50: quantile(reads, 0.5), p99: quantile(reads, 0.99), n: reads.length },
    writes: { p50: quantile(writes, 0.5), p99: quantile(writes, 0.99), n: writes.length },
    failures,
    /** The rate the requests actually went out at (the generator shares the CPU too). */
    sentRate: sent / ((lastSent - start) / 1000 + interval / 1000),
    /** From the first request to the last response. */
    seconds: (performance.now() - start) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function runHttp(opts: { quick: boolean }, previous: readonly BenchFigure[] = []): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  // the ceilings phase's figure, when it ran: the ratio to it is reported beside the ratio measured in turns
  const phaseCeiling = phaseTransitionCeiling(previous);
  let ceiling: TransitionCeiling | null = null;

  const redisUrl = BASE_ENV.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `gfbench-http-${process.pid}`;
  const port = await freePort();
  const services: Service[] = [];
  const http = new Http(port);
  const openLoopHttp = new Http(port, OPEN_LOOP_TIMEOUT_MS);
  let cleaned: Promise<void> | null = null;
  // every step runs even when an earlier one fails: the children stop, the keys and the database go
  const cleanup = () =>
    (cleaned ??= (async () => {
      http.close();
      openLoopHttp.close();
      const steps = [
        () => Promise.all(services.map(stopService)),
        () => deleteRedisKeys(redisUrl, prefix),
        () => dropDatabase(DATABASE),
        // also when interrupted while the replay's database was being built
        async () => (ceiling ? ceiling.close() : dropDatabase(TRANSITION_CEILING_DATABASE)),
      ];
      for (const step of steps) await step().catch((e: Error) => console.error(`[bench] http cleanup: ${e.message}`));
    })());
  // interrupted: stop the children and drop what this phase created before leaving
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`[bench] ${signal}: stopping the API and worker, dropping ${DATABASE}`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const url = await createScratchDatabase(DATABASE);
    const env: NodeJS.ProcessEnv = {
      ...BASE_ENV,
      NODE_ENV: 'production',
      LOG_LEVEL: BASE_ENV.LOG_LEVEL ?? 'error',
      PORT: String(port),
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      JWT_SECRET: BASE_ENV.JWT_SECRET ?? randomBytes(48).toString('base64url'),
      WEBHOOK_SECRET_KEY: BASE_ENV.WEBHOOK_SECRET_KEY ?? randomBytes(32).toString('base64url'),
      JWT_ACCESS_TTL_SECONDS: '3600',
      DEMO_PASSWORD: PASSWORD,
    };
    services.push(startService('worker', 'apps/worker/src/main.js', env), startService('API', 'apps/api/src/main.js', env));
    const [worker, api] = services;
    await waitUntil('the API answered /health', services, async () => {
      try {
        return (await http.send('GET', '/health')).status === 200;
      } catch {
        return false;
      }
    });
    await waitUntil('the worker started', services, () => worker.log.join('').includes('Gridflow worker'));
    // every API process listens (with API_WORKERS > 1 the first may answer /health before the others listen)
    await waitUntil('every API process listened', services, () => api.log.join('').includes('Gridflow API listening'));
    const teams = await buildTeams(http);

    const cpuGroups = {
      API: processTree(api.child.pid!),
      worker: [worker.child.pid!],
      'MariaDB server (all its work)': await mariadbPids(),
      'Redis server': await redisPids(redisUrl),
      'load generator (bench process)': [process.pid],
    };
    // enough lifecycles to keep every API database connection busy (each has one to three requests in flight)
    const inFlight = opts.quick ? 16 : 24;
    // the raw replay the lifecycles take turns with (its own scratch database, prepared before they start)
    ceiling = await openTransitionCeiling(32);
    // the first window after a 5 s warm-up read 20–40 % below the next ones in four runs of four (JIT, pools, caches)
    const t = await runLifecycles(http, teams, {
      inFlight,
      warmupMs: opts.quick ? 5_000 : 10_000,
      rounds: opts.quick ? 2 : 4,
      windowMs: opts.quick ? 7_000 : 15_000,
      replayMs: opts.quick ? 3_000 : 5_000,
      ceiling,
      cpuGroups,
    });
    // the replay's pool and database are not needed by the latency run
    await ceiling.close();
    ceiling = null;
    if (t.failures.count) console.error(`[bench] http lifecycle failures: ${t.failures.summary()}; ${await connectionStates(DATABASE)}`);
    figures.push(
      {
        name: `HTTP handoff lifecycles: durable transitions/s (${inFlight} lifecycles in flight, ${TRANSITIONS_PER_LIFECYCLE} transitions each; ${t.rounds.length} windows, each followed by the raw replay)`,
        value: Math.round(t.transitionsPerSec),
        unit: 'transitions/s',
        ceiling: Math.round(t.ceilingPerSec),
        ratio: Number(t.ratio.toFixed(3)),
        target: TARGET_TRANSITIONS,
        met: t.transitionsPerSec >= TARGET_TRANSITIONS,
      },
      {
        name: 'HTTP transitions/s ÷ raw MariaDB transition replay (32 connections) measured in turns with the windows',
        value: Number(t.ratio.toFixed(3)),
        unit: 'ratio',
        target: TARGET_RATIO,
        met: t.ratio >= TARGET_RATIO,
      },
      ...t.rounds.flatMap((r, i) => [
        { name: `HTTP round ${i + 1}: transitions/s, raw replay tx/s right after, ratio`, value: Math.round(r.gridflowPerSec), unit: 'transitions/s', ceiling: Math.round(r.ceilingPerSec), ratio: Number(r.ratio.toFixed(3)) },
        {
          name: `HTTP round ${i + 1}: wait for the requests in flight and for the API and the worker to go quiet before the replay${r.quiet ? '' : ' (they did not go quiet)'}`,
          value: Math.round(r.settleMs),
          unit: 'ms',
        },
      ]),
      ...(phaseCeiling === undefined
        ? []
        : [
            {
              name: 'HTTP transitions/s ÷ the ceilings phase’s 32-connection replay (measured minutes earlier)',
              value: Number((t.transitionsPerSec / phaseCeiling).toFixed(3)),
              unit: 'ratio',
              ceiling: Math.round(phaseCeiling),
            },
          ]),
      { name: 'HTTP handoff lifecycles completed', value: Number(t.lifecyclesPerSec.toFixed(1)), unit: 'lifecycles/s' },
      { name: 'HTTP transition latency p50 (saturated)', value: Math.round(t.p50), unit: 'ms' },
      { name: 'HTTP transition latency p99 (saturated)', value: Math.round(t.p99), unit: 'ms' },
      { name: 'HTTP lifecycle run: failed requests', value: t.failures.count, unit: 'requests', target: 0, met: t.failures.count === 0 },
      { name: 'CPU per transition: API', value: Number(((t.cpu.API / t.transitionsPerSec) * 1000).toFixed(2)), unit: 'ms' },
      {
        name: 'CPU per transition: API, worker, MariaDB, Redis and load generator together',
        value: Number(((Object.entries(t.cpu).reduce((sum, [who, cores]) => (who === MACHINE ? sum : sum + cores), 0) / t.transitionsPerSec) * 1000).toFixed(2)),
        unit: 'ms',
      },
      ...Object.entries(t.cpu).map(([who, cores]) => ({ name: `CPU during the lifecycle run: ${who}`, value: Number(cores.toFixed(2)), unit: 'cores' })),
    );

    const pool = await latencyPool(http, teams, opts.quick ? 4 : 8).catch(async (e: Error) => {
      throw new Error(`preparing the latency run (${await connectionStates(DATABASE)}): ${e.message}`, { cause: e });
    });
    const perRequest = await cpuPerRequest(new Workload(http, teams, pool), cpuGroups.API, opts.quick ? 200 : 400);
    figures.push(
      ...KINDS.map((k) => ({ name: `CPU per request, one at a time: API, ${KIND_LABEL[k]}`, value: Number(perRequest[k].toFixed(2)), unit: 'ms' })),
    );
    const cpuBefore = sampleCpu(cpuGroups);
    const openSeconds = opts.quick ? 10 : 30;
    const l = await openLoop(new Workload(openLoopHttp, teams, pool), { rate: RATE, seconds: openSeconds, timeoutMs: OPEN_LOOP_TIMEOUT_MS, cpuGroups });
    const cpuAfter = sampleCpu(cpuGroups);
    if (l.failures.count) console.error(`[bench] http open-loop failures: ${l.failures.summary()}; ${await connectionStates(DATABASE)}`);
    const label = `${RATE} req/s open loop, 70 % reads`;
    figures.push(
      { name: `HTTP read latency p50 (GET inbox, GET task; ${label})`, value: Number(l.reads.p50.toFixed(1)), unit: 'ms' },
      { name: 'HTTP read latency p99', value: Number(l.reads.p99.toFixed(1)), unit: 'ms', target: READ_P99_MS, met: l.reads.p99 <= READ_P99_MS },
      { name: 'HTTP write latency p50 (report-progress, create task)', value: Number(l.writes.p50.toFixed(1)), unit: 'ms' },
      { name: 'HTTP write latency p99', value: Number(l.writes.p99.toFixed(1)), unit: 'ms', target: WRITE_P99_MS, met: l.writes.p99 <= WRITE_P99_MS },
      { name: 'HTTP open-loop run: rate the requests went out at', value: Math.round(l.sentRate), unit: 'req/s' },
      { name: 'HTTP open-loop run: failed requests', value: l.failures.count, unit: 'requests', target: 0, met: l.failures.count === 0 },
      ...['API', MACHINE].map((who) => ({
        name: `CPU during the open-loop run: ${who}`,
        value: Number(((cpuAfter[who] - cpuBefore[who]) / (l.seconds)).toFixed(2)),
        unit: 'cores',
      })),
      // where the tail comes from: steady, or a few seconds of it
      ...l.windows.flatMap((w) => [
        { name: `HTTP open loop, seconds ${w.from}–${w.to}: read p99`, value: Number(w.readP99.toFixed(1)), unit: 'ms' },
        { name: `HTTP open loop, seconds ${w.from}–${w.to}: write p99`, value: Number(w.writeP99.toFixed(1)), unit: 'ms' },
        ...['API', 'MariaDB server (all its work)', 'worker', MACHINE].map((who) => ({
          name: `HTTP open loop, seconds ${w.from}–${w.to}: CPU of ${who}`,
          value: Number(w.cores[who].toFixed(2)),
          unit: 'cores',
        })),
      ]),
    );
    return figures;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runHttp({ quick: process.argv.includes('--quick') })
    .then((figures) => printTable(figures))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 500).unref());
}

/**
 * What one request of each kind costs the API in CPU, one request at a time, for one build or two side by side.
 *
 *   node dist/bench/request-cpu.js [--rounds=20] [--batch=150] <checkout> [<other checkout>]
 *
 * Each checkout must be built (`npm run build` there). The API of each runs from its own dist/ (`node
 * dist/apps/api/src/main.js`), both at once, on the database of DATABASE_URL (migrated and seeded with the demo
 * district, as ./scripts/bench leaves `gridflow_bench`) and a Redis prefix of their own. Each round sends, for every
 * kind, `batch` requests to one API and then `batch` to the other (the order alternates from round to round) and
 * reads each API process's CPU time from /proc around its batch. Both builds therefore share whatever the machine is
 * doing at the time, which on a noisy VM moves one build's figures by more than most changes do. Reported per kind:
 * the mean over rounds of each build's CPU milliseconds per request and, for two builds, the median of the
 * per-round ratios (second ÷ first) and in how many rounds the second was cheaper. Written to
 * bench/results/<date>-request-cpu.json and .md.
 *
 * The kinds are those of the HTTP phase's open loop: GET /tasks/:id and GET /tasks?view=inbox as a community leader,
 * report-progress on an accepted child task, and task creation by a street leader. BENCH_NODE_ARGS adds node options
 * to each API (e.g. `--cpu-prof --cpu-prof-dir=<dir>`: with one request at a time, the profile is the API's CPU).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '@gridflow/common';
import { cpuSeconds, deleteRedisKeys, freePort } from './ceilings.js';
import { printTable, type BenchFigure } from './report.js';

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const ROUNDS = arg('rounds', 20);
const BATCH = arg('batch', 150);
const checkouts = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (checkouts.length < 1 || checkouts.length > 2) {
  console.error('usage: node dist/bench/request-cpu.js [--rounds=20] [--batch=150] <checkout> [<other checkout>]');
  process.exit(2);
}
const PASSWORD = process.env.DEMO_PASSWORD ?? 'Gridflow@2026';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

type Kind = 'detail' | 'inbox' | 'progress' | 'create';
const KINDS: Record<Kind, string> = {
  detail: 'GET /tasks/:id',
  inbox: 'GET /tasks?view=inbox',
  progress: 'POST report-progress',
  create: 'POST /tasks (create)',
};

class Api {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  readonly child: ChildProcess;
  readonly prefix = `gfbench-reqcpu-${randomBytes(4).toString('hex')}`;
  leader = '';
  community = '';
  children: string[] = [];
  turn = 0;
  readonly cpuMs: Record<Kind, number[]> = { detail: [], inbox: [], progress: [], create: [] };

  constructor(
    readonly checkout: string,
    readonly port: number,
  ) {
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...extra, resolve(checkout, 'dist/apps/api/src/main.js')], {
      env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'error', PORT: String(port), REDIS_PREFIX: this.prefix, API_WORKERS: '1' },
      stdio: 'ignore',
    });
  }

  send<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((done, fail) => {
      const headers: Record<string, string | number> = {};
      if (data) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
      if (token) headers.authorization = `Bearer ${token}`;
      const req = httpRequest({ host: '127.0.0.1', port: this.port, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 300) fail(new Error(`${this.checkout}: ${method} ${path} ${res.statusCode} ${text.slice(0, 200)}`));
          else done((text ? JSON.parse(text) : null) as T);
        });
      });
      req.on('error', fail);
      req.end(data);
    });
  }

  async prepare(): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.child.exitCode !== null) throw new Error(`the API of ${this.checkout} exited (${this.child.exitCode})`);
      if (await this.send('GET', '/health').then(() => true, () => false)) break;
      if (i > 300) throw new Error(`the API of ${this.checkout} did not answer /health`);
      await sleep(200);
    }
    const login = async (username: string) =>
      (await this.send<{ accessToken: string }>('POST', '/api/v1/auth/login', undefined, { username, password: PASSWORD })).accessToken;
    this.leader = await login('xh-jd1-leader');
    this.community = await login('xh-jd1-sq1-leader');
    const units = await this.send<{ items: { id: string; code: string }[] }>('GET', '/api/v1/org-units', this.leader);
    const receivers = units.items.filter((u) => /^xh-jd1-sq[123]$/.test(u.code));
    const own = receivers.find((u) => u.code === 'xh-jd1-sq1')!.id;
    for (let i = 0; i < 10; i++) {
      const root = await this.send<{ id: string }>('POST', '/api/v1/tasks', this.leader, { title: '单请求成本', categoryCode: 'SANITATION_GRID_CLEANING', dueAt: inDays(30), fundingFen: 3000 });
      const handed = await this.send<{ items: { id: string; assigneeOrgUnitId: string }[] }>('POST', `/api/v1/tasks/${root.id}/handoffs`, this.leader, {
        handoffs: receivers.map((u) => ({ assigneeOrgUnitId: u.id, fundingFen: 1000, grants: [] })),
      });
      const child = handed.items.find((c) => c.assigneeOrgUnitId === own)!.id;
      await this.send('POST', `/api/v1/tasks/${child}/actions/accept`, this.community, {});
      this.children.push(child);
    }
  }

  request(kind: Kind): Promise<unknown> {
    const k = this.turn++;
    const child = this.children[k % this.children.length];
    if (kind === 'detail') return this.send('GET', `/api/v1/tasks/${child}`, this.community);
    if (kind === 'inbox') return this.send('GET', '/api/v1/tasks?view=inbox&limit=20', this.community);
    if (kind === 'progress') return this.send('POST', `/api/v1/tasks/${child}/actions/report-progress`, this.community, { percent: 1 + (k % 99) });
    return this.send('POST', '/api/v1/tasks', this.leader, { title: '日常巡查任务', categoryCode: 'SANITATION_GRID_CLEANING', dueAt: inDays(30), fundingFen: 100 });
  }

  /** API CPU ms per request over one batch of `kind`. */
  async batch(kind: Kind, n: number): Promise<number> {
    const before = cpuSeconds(this.child.pid!);
    for (let i = 0; i < n; i++) await this.request(kind);
    const ms = ((cpuSeconds(this.child.pid!) - before) * 1000) / n;
    this.cpuMs[kind].push(ms);
    return ms;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const apis: Api[] = [];
for (const c of checkouts) apis.push(new Api(c, await freePort()));
try {
  for (const api of apis) await api.prepare();
  for (const api of apis) for (const kind of Object.keys(KINDS) as Kind[]) await api.batch(kind, 50); // warm-up
  for (const api of apis) for (const k of Object.keys(api.cpuMs) as Kind[]) api.cpuMs[k] = [];
  const ratios: Record<Kind, number[]> = { detail: [], inbox: [], progress: [], create: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of Object.keys(KINDS) as Kind[]) {
      const order = r % 2 ? [...apis].reverse() : apis;
      const ms = new Map<Api, number>();
      for (const api of order) ms.set(api, await api.batch(kind, BATCH));
      if (apis.length === 2) ratios[kind].push(ms.get(apis[1])! / ms.get(apis[0])!);
    }
    process.stderr.write(`[request-cpu] round ${r + 1} of ${ROUNDS}\r`);
  }
  const figures: BenchFigure[] = [];
  for (const kind of Object.keys(KINDS) as Kind[]) {
    for (const [i, api] of apis.entries()) {
      figures.push({ name: `API CPU per request, one at a time: ${KINDS[kind]} — ${apis.length > 1 ? `build ${i + 1} (${api.checkout})` : api.checkout}`, value: Number(mean(api.cpuMs[kind]).toFixed(3)), unit: 'ms' });
    }
    if (apis.length === 2) {
      figures.push(
        { name: `${KINDS[kind]}: build 2 ÷ build 1, median of ${ROUNDS} rounds`, value: Number(median(ratios[kind]).toFixed(3)), unit: 'ratio' },
        { name: `${KINDS[kind]}: rounds in which build 2 was cheaper`, value: ratios[kind].filter((x) => x < 1).length, unit: `of ${ROUNDS}` },
      );
    }
  }
  console.log();
  printTable(figures);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await mkdir('bench/results', { recursive: true });
  const run = { at: new Date().toISOString(), checkouts, rounds: ROUNDS, batch: BATCH, results: figures };
  await writeFile(`bench/results/${stamp}-request-cpu.json`, JSON.stringify(run, null, 2));
  await writeFile(
    `bench/results/${stamp}-request-cpu.md`,
    [`# API CPU per request ${run.at}`, '', `Builds: ${checkouts.join(', ')}; ${ROUNDS} rounds of ${BATCH} requests per kind and build.`, '', '| figure | value | unit |', '|---|---|---|', ...figures.map((f) => `| ${f.name} | ${f.value} | ${f.unit} |`), ''].join('\n'),
  );
  console.log(`\nwritten bench/results/${stamp}-request-cpu.json and .md`);
} finally {
  for (const api of apis) {
    // wait for a clean stop (a profile asked for by BENCH_NODE_ARGS is written then), at most 10 s
    const exited = new Promise<void>((r) => (api.child.exitCode !== null ? r() : api.child.once('exit', () => r())));
    api.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    api.agent.destroy();
    await deleteRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', api.prefix).catch(() => undefined);
  }
}
process.exit(0);

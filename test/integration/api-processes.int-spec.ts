import { afterEach, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../helpers/app.js';

/** The built API (`node dist/apps/api/src/main.js`, as scripts/start runs it) on the test database and Redis prefix. */
interface Api {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const started: Api[] = [];

async function startApi(env: Record<string, string>, cwd = process.cwd()): Promise<Api> {
  const port = await freePort();
  const inherited = { ...process.env };
  delete inherited.API_WORKERS;
  const child = spawn(process.execPath, [resolve('dist/apps/api/src/main.js')], {
    cwd,
    env: { ...inherited, PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const api = { child, port, output: () => out, exited };
  started.push(api);
  return api;
}

/** The pids of a process's children. */
const childrenOf = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );

/** A request on a fresh connection (each may be given to another process), given up after 5 s. */
const call = async (api: Api, path: string, init: RequestInit = {}) => {
  const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
    ...init,
    headers: { connection: 'close', ...init.headers },
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const healthy = async (api: Api) => (await call(api, '/health').catch(() => null))?.status === 200;

describe('API_WORKERS: several API processes share the port (integration, built API)', () => {
  afterEach(async () => {
    for (const api of started.splice(0)) {
      if (api.child.exitCode !== null || api.child.signalCode !== null) continue;
      const children = childrenOf(api.child.pid!);
      api.child.kill('SIGKILL');
      for (const pid of children) process.kill(pid, 'SIGKILL');
    }
  });

  it('serves from two processes, replaces one that dies, and stops them all on SIGTERM', async () => {
    // at info every request is logged, by the process that served it (pino's `pid`)
    const api = await startApi({ API_WORKERS: '2', LOG_LEVEL: 'info' });
    await waitFor(async () => api.output().includes('Gridflow API listening'), 30_000);
    expect(api.output()).toContain(`http://127.0.0.1:${api.port} (docs at /api/docs), 2 processes`);
    const [first, second] = childrenOf(api.child.pid!);
    expect(childrenOf(api.child.pid!)).toHaveLength(2);

    // a token from one process is good in the other: each request comes on its own connection, which they take in turn
    const login = await call(api, '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'xh-jd1-leader', password: process.env.DEMO_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${String(login.body.accessToken)}` };
    for (let i = 0; i < 6; i++) expect((await call(api, '/api/v1/me', { headers: auth })).body.username).toBe('xh-jd1-leader');
    const servedBy = await waitFor(async () => {
      const pids = new Set(
        api
          .output()
          .split('\n')
          .slice(0, -1) // whole lines only: the last one may still be arriving
          .filter((line) => line.includes('"url":"/api/v1/me"'))
          .map((line) => (JSON.parse(line) as { pid: number }).pid),
      );
      return pids.size === 2 ? pids : null;
    }, 5_000);
    expect([...servedBy].sort()).toEqual([first, second].sort());

    // one process killed: the other answers (a connection handed to the dying one may be lost with it), and a new
    // process takes the dead one's place
    process.kill(first, 'SIGKILL');
    await waitFor(() => healthy(api));
    const now = await waitFor(async () => {
      const pids = childrenOf(api.child.pid!);
      return pids.length === 2 && !pids.includes(first) ? pids : null;
    }, 15_000);
    expect(now).toContain(second);
    expect(api.output()).toMatch(new RegExp(`API process ${first} exited \\(SIGKILL\\)`));
    await waitFor(() => healthy(api));

    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    for (const pid of now) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('reads API_WORKERS from .env as the configuration reads that file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridflow-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'API_WORKERS="2" # two processes\n');
      const api = await startApi({}, dir);
      await waitFor(async () => api.output().includes('Gridflow API listening'), 30_000);
      expect(api.output()).toContain('2 processes');
      expect(childrenOf(api.child.pid!)).toHaveLength(2);
      api.child.kill('SIGTERM');
      expect(await api.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives up and exits non-zero when its processes keep dying at start', async () => {
    // a configuration only the API processes check (the supervisor reads API_WORKERS alone)
    const api = await startApi({ API_WORKERS: '2', JWT_SECRET: 'too short' });
    expect(await api.exited).toBe(1);
    expect(api.output()).toContain('Invalid configuration: JWT_SECRET must be at least 32 characters');
    expect(api.output()).toContain('Gridflow API processes keep exiting at start; stopping');
    expect(api.output()).not.toContain('Gridflow API listening');
  });

  it('refuses a bad API_WORKERS before starting anything', async () => {
    const api = await startApi({ API_WORKERS: '0' });
    expect(await api.exited).not.toBe(0);
    expect(api.output()).toContain('Invalid configuration: API_WORKERS');
  });
});

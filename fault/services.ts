/**
 * The processes a fault run owns: a private MariaDB (own datadir, port and socket), a private Redis, the API and the
 * worker. Every one is started here as a child process, logged to its own file, and its pid is appended to the run's
 * pid file so that scripts/fault can end it even if this process dies. The shared MariaDB and Redis of the machine are
 * never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createConnection as createDbConnection } from 'mysql2/promise';
import { SERVICE_NODE_FLAGS } from '../libs/common/src/config/node-flags.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it holds; returns the elapsed milliseconds, or null after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<number | null> {
  const start = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - start;
    } catch {
      // a check that throws (a service still down) has simply not passed yet
    }
    if (Date.now() - start >= timeoutMs) return null;
    await sleep(everyMs);
  }
}

/** Whether 127.0.0.1:port can be bound now (nothing listens there). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function tcpOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The first free port at or after `preferred` (skipping `taken`), so runs on a busy machine pick their own. */
export async function freePort(preferred: number, taken: number[] = []): Promise<number> {
  for (let p = preferred; p < preferred + 500; p++) {
    if (!taken.includes(p) && !(await tcpOpen(p, 200)) && (await canBind(p))) return p;
  }
  throw new Error(`no free port in ${preferred}..${preferred + 499}`);
}

export interface RunDirs {
  /** Scratch directory (datadir, socket, Redis dump); scripts/fault removes it. */
  work: string;
  /** Log directory kept after the run. */
  logs: string;
  /** One pid per line of every process started here; scripts/fault ends the live ones on exit. */
  pidFile: string;
}

/** One child process under a name, restartable, with its output in `<logs>/<name>-<n>.log`. */
export class Managed {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private incarnation = 0;
  private stopping = false;
  /** Exits nobody asked for (a crash), with their exit code or signal. */
  readonly unexpectedExits: string[] = [];
  /** Log file of the current incarnation. */
  logPath = '';

  constructor(
    readonly name: string,
    private readonly dirs: RunDirs,
    private readonly command: string,
    private readonly args: () => string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.incarnation += 1;
    this.logPath = join(this.dirs.logs, `${this.name}-${this.incarnation}.log`);
    const fd = openSync(this.logPath, 'a');
    const child = spawn(this.command, this.args(), { env: this.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (!child.pid) throw new Error(`${this.name} did not start (${this.command})`);
    appendFileSync(this.dirs.pidFile, `${child.pid}\n`);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.stopping)
          this.unexpectedExits.push(
            `${this.name} exited on its own (${signal ?? `code ${code}`}), see ${this.logPath}`,
          );
        resolve();
      }),
    );
    child.once('error', (e) => appendFileSync(this.logPath, `\n[fault] spawn error: ${e.message}\n`));
  }

  /** Sends a signal and waits (up to `timeoutMs`, then SIGKILL) until the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.stopping = true;
    try {
      child.kill(signal);
      const gone = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await this.exited;
      }
    } finally {
      this.stopping = false;
    }
  }

  /** Marks the coming exit as expected (a process told to shut down some other way, e.g. Redis SHUTDOWN). */
  async expectExit(fn: () => Promise<unknown>, timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    try {
      await fn();
      await Promise.race([this.exited, sleep(timeoutMs)]);
    } finally {
      this.stopping = false;
    }
    await this.stop('SIGKILL');
  }

  /** The tail of the current log, for error messages. */
  tail(lines = 20): string {
    if (!this.logPath || !existsSync(this.logPath)) return '';
    return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  }
}

/** mariadbd refuses to run as root unless told to; as anyone else it runs as that user. */
const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];

/** A MariaDB server of this run only: its own datadir under the scratch directory, its own port and socket. */
export class PrivateMariaDb {
  readonly proc: Managed;
  private readonly dataDir: string;

  constructor(
    dirs: RunDirs,
    readonly port: number,
    private readonly binary = process.env.FAULT_MARIADBD ?? '/usr/sbin/mariadbd',
  ) {
    this.dataDir = join(dirs.work, 'mariadb');
    const errLog = join(dirs.logs, 'mariadb-error.log');
    this.proc = new Managed('mariadb', dirs, this.binary, () => [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dirs.work, 'mariadb.sock')}`,
      `--pid-file=${join(dirs.work, 'mariadb.pid')}`,
      `--log-error=${errLog}`,
      `--tmpdir=${dirs.work}`,
      ...asRoot,
      '--skip-name-resolve',
      // times in UTC whatever the machine's zone (the apps write UTC; NOW() must agree)
      '--default-time-zone=+00:00',
      '--skip-log-bin',
      '--max-connections=300',
      '--innodb-buffer-pool-size=128M',
      // every commit is on disk before it is acknowledged: a kill -9 must not lose acknowledged work
      '--innodb-flush-log-at-trx-commit=1',
    ]);
  }

  get url(): string {
    return `mariadb://root@127.0.0.1:${this.port}`;
  }

  /** Initialises the datadir (root without a password over TCP from 127.0.0.1). */
  install(): void {
    mkdirSync(this.dataDir, { recursive: true });
    const installer = process.env.FAULT_MARIADB_INSTALL_DB ?? 'mariadb-install-db';
    const r = spawnSync(
      installer,
      [
        '--no-defaults',
        `--datadir=${this.dataDir}`,
        '--auth-root-authentication-method=normal',
        ...asRoot,
        '--skip-test-db',
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0)
      throw new Error(`${installer} failed: ${r.error?.message ?? ''}${r.stderr ?? ''}${r.stdout ?? ''}`);
  }

  start(): void {
    this.proc.start();
  }

  /** Whether the server answers a query. */
  async answers(): Promise<boolean> {
    if (!(await tcpOpen(this.port))) return false;
    const conn = await createDbConnection({ host: '127.0.0.1', port: this.port, user: 'root', connectTimeout: 1000 });
    try {
      await conn.query('SELECT 1');
      return true;
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const ok = await until(
      async () => {
        if (!this.proc.running) throw new Error('exited');
        return this.answers();
      },
      timeoutMs,
      100,
    );
    if (ok === null)
      throw new Error(`the private MariaDB did not answer within ${timeoutMs / 1000} s:\n${this.proc.tail()}`);
  }
}

/** A Redis server of this run only, no persistence except an explicit SHUTDOWN SAVE into the scratch directory. */
export class PrivateRedis {
  readonly proc: Managed;

  constructor(
    dirs: RunDirs,
    readonly port: number,
    private readonly binary = process.env.FAULT_REDIS_SERVER ?? 'redis-server',
  ) {
    this.proc = new Managed('redis', dirs, this.binary, () => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dirs.work,
      '--dbfilename',
      'redis-fault.rdb',
      '--daemonize',
      'no',
    ]);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  start(): void {
    this.proc.start();
  }

  /** A short-lived client for one command (never retrying: a fault command must not wait for Redis to return). */
  async command<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({
      host: '127.0.0.1',
      port: this.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  /** Pauses a BullMQ queue: its consumers stop taking jobs while producers keep adding them. */
  async pauseQueue(name: string, prefix: string): Promise<void> {
    const queue = new Queue(name, {
      connection: { host: '127.0.0.1', port: this.port, maxRetriesPerRequest: 1 },
      prefix,
    });
    try {
      await queue.pause();
    } finally {
      await queue.close();
    }
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const ok = await until(
      async () => {
        if (!this.proc.running) throw new Error('exited');
        return (await this.command((r) => r.ping())) === 'PONG';
      },
      timeoutMs,
      100,
    );
    if (ok === null)
      throw new Error(`the private Redis did not answer within ${timeoutMs / 1000} s:\n${this.proc.tail()}`);
  }
}

/** The API or the worker, built into dist/, with the run's environment. */
export function appProcess(name: 'api' | 'worker', dirs: RunDirs, env: NodeJS.ProcessEnv): Managed {
  const entry = name === 'api' ? 'dist/apps/api/src/main.js' : 'dist/apps/worker/src/main.js';
  // the trailing marker names the run, so a process of this run is recognisable in `ps`
  // the Node flags scripts/start runs them with
  return new Managed(
    name,
    dirs,
    process.execPath,
    () => [...SERVICE_NODE_FLAGS, entry, `--gridflow-fault-run=${dirs.work}`],
    env,
  );
}

import cluster, { type Worker } from 'node:cluster';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '@gridflow/common';

/** A process that dies this soon after it started is not started again at once (a broken deployment would spin). */
const EARLY_EXIT_MS = 10_000;
const RESTART_DELAY_MS = 1_000;
/** How long a stop waits for the processes to finish their requests and close before killing them. */
const STOP_GRACE_MS = 30_000;

/** Starts the HTTP API in this process (the modules load here: a supervising process never loads them). */
export async function serveApi(): Promise<void> {
  const [{ NestFactory }, { ConfigService }, { AppModule }, { configureApp }] = await Promise.all([
    import('@nestjs/core'),
    import('@nestjs/config'),
    import('./app.module.js'),
    import('./configure-app.js'),
  ]);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, bufferLogs: true });
  configureApp(app);
  const { port } = app.get(ConfigService).getOrThrow<AppConfig>('app');
  await app.listen(port, '0.0.0.0');
  if (cluster.isPrimary) console.log(`Gridflow API listening on http://127.0.0.1:${port} (docs at /api/docs)`);
}

/**
 * Runs `count` API processes (node:cluster) that share the port; the connections are spread among them. Each is an
 * ordinary API process with its own database pool (DATABASE_POOL_SIZE connections each); everything they share
 * lives in MariaDB and Redis. A process that exits unexpectedly is started again, after RESTART_DELAY_MS when it
 * lived less than EARLY_EXIT_MS. At the third such early exit in a row the supervisor stops the others and exits
 * with 1, so that a broken deployment shows as a failed service instead of a loop. SIGTERM and SIGINT stop every
 * process gracefully (killing any still running after STOP_GRACE_MS), then this one: with 0 when each stopped
 * cleanly, else 1.
 */
export function superviseApiProcesses(count: number): void {
  let stopping = false;
  let stopSignal: NodeJS.Signals | undefined;
  let listening = 0;
  let earlyExits = 0;
  const startedAt = new Map<Worker, number>();
  const start = () => {
    if (!stopping) startedAt.set(cluster.fork(), Date.now());
  };

  cluster.on('listening', (_worker, address) => {
    if (++listening === count) {
      console.log(`Gridflow API listening on http://127.0.0.1:${address.port} (docs at /api/docs), ${count} processes`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) {
      // a process that could not stop cleanly makes the whole stop a failure (Nest ends by raising the signal again)
      if (code !== 0 && signal !== stopSignal) process.exitCode = 1;
      if (!startedAt.size) process.exit();
      return;
    }
    console.error(`Gridflow API process ${worker.process.pid} exited (${signal ?? code}) after ${lived} ms`);
    earlyExits = lived < EARLY_EXIT_MS ? earlyExits + 1 : 0;
    if (earlyExits > 2) {
      console.error('Gridflow API processes keep exiting at start; stopping');
      stopping = true;
      for (const w of startedAt.keys()) w.kill('SIGTERM');
      process.exitCode = 1;
      if (!startedAt.size) process.exit();
      return;
    }
    console.error('Gridflow API: starting another process');
    setTimeout(start, earlyExits ? RESTART_DELAY_MS : 0);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stopSignal = signal;
    for (const w of startedAt.keys()) w.kill(signal);
    if (!startedAt.size) process.exit();
    setTimeout(() => {
      console.error(`Gridflow API: processes still running ${STOP_GRACE_MS} ms after ${signal}; killing them`);
      for (const w of startedAt.keys()) w.process.kill('SIGKILL');
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) start();
}

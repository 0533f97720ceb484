import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import type { OutboundConfig, WorkerConfig } from '@gridflow/common';
import {
  JOB_OPTIONS,
  JobName,
  type JobPayloads,
  notifyBatchJobId,
  type NotifyBatchItem,
  outboundJobOptions,
  outboxJobId,
  outboxJobRoute,
  queueClient,
  QueueName,
  REDIS,
  timerJobs,
} from '@gridflow/queue';
import { WORKER_ID } from '../maintenance/heartbeat.handler.js';
import { MaintenanceProcessor } from '../maintenance/maintenance.processor.js';
import { republishLostJobs } from './lost-jobs.js';

interface OutboxRow {
  id: string;
  job_name: string;
  aggregate_id: string | null;
  payload: string;
  correlation_id: string | null;
}

const BATCH = 500;
/** Longest wait for Redis to take one batch; past it the batch is rolled back and tried again. */
export const PUBLISH_TIMEOUT_MS = 5_000;
/** How often the relay checks that Redis still holds its data. */
export const DATA_LOSS_CHECK_MS = 1_000;
/** Each worker's marker key (under REDIS_PREFIX, followed by the worker id); it expires when the worker is gone. */
export const REDIS_MARKER_KEY = 'redis-marker';
const MARKER_TTL_S = 3600;
/** Longest pause between two relay attempts while the database or Redis fails. */
const MAX_ERROR_BACKOFF_MS = 2_000;

/**
 * Publishes outbox rows to BullMQ and marks them sent. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any
 * number of workers can relay side by side; the outbox id is the job id, so publishing a row twice (a crash between
 * publish and mark) yields one job, and the consumers' applied-effects check makes a late duplicate a no-op.
 * Roll-ups of the same parent within one batch are coalesced into one job (the recompute reads current state). The
 * notify rows of one batch go out together as NotifyBatch jobs (up to NOTIFY_BATCH_ROWS rows each; the job id is
 * derived from the rows' ids, and each row's job_id column names it): under load most task actions write a notify
 * row, and one job per row cost the worker, Redis and MariaDB a job and a transaction each.
 *
 * The claim runs under READ COMMITTED: under REPEATABLE READ its next-key locks on the pending range would block
 * every insert into the outbox — every task action of every user — for as long as the batch takes to publish, which
 * is as long as Redis is down. While Redis does not answer no batch is claimed, and a batch Redis does not take within
 * PUBLISH_TIMEOUT_MS is rolled back (its rows stay pending; jobs that did reach Redis keep their ids, so the retry
 * adds no duplicates).
 *
 * The relay also notices when Redis has lost data — a FLUSHALL, a restart without persistence, or a restart from an
 * older snapshot: every second it rewrites a marker key with a new value, and finds the key gone or holding an older
 * value. The effect jobs Redis lost are then rebuilt from MySQL at once (recent rows published but never applied whose
 * job is gone go back to the outbox) rather than a minute or more later by the timer sweeper, and the heartbeat
 * schedule is put back. Older lost rows and lost timer jobs stay the sweeper's (TimerSweeper, every SWEEP_EVERY_MS).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly pollMs: number;
  private readonly outbound: OutboundConfig;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastDataCheck = 0;
  /** The value this worker last wrote into its marker key (null before the first check). */
  private marker: string | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectQueue(QueueName.Effects) private readonly effects: Queue,
    @InjectQueue(QueueName.Timers) private readonly timers: Queue,
    @InjectQueue(QueueName.Outbound) private readonly outboundQueue: Queue,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly maintenance: MaintenanceProcessor,
    config: ConfigService,
  ) {
    this.pollMs = config.getOrThrow<WorkerConfig>('worker').outboxPollMs;
    this.outbound = config.getOrThrow<OutboundConfig>('outbound');
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let relayed = 0;
      try {
        await this.checkRedisData();
        relayed = await this.relayOnce();
        failures = 0;
      } catch (e) {
        failures += 1;
        // one line per failure streak step, not five a second while a service is down
        if (failures <= 3 || failures % 10 === 0) this.logger.warn(`outbox relay: ${(e as Error).message}`);
      }
      const pause = failures ? Math.min(this.pollMs * 2 ** failures, MAX_ERROR_BACKOFF_MS) : this.pollMs;
      if (relayed < BATCH) await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * At most every DATA_LOSS_CHECK_MS: when this worker's marker key is not what it last wrote, Redis lost data (or this
   * is the worker's first check): rebuilds what the queues held, then writes a new marker. Returns whether it rebuilt.
   * Any number of workers may rebuild at once: every step is idempotent (deterministic job ids, applied-effects checks).
   */
  async checkRedisData(now = Date.now()): Promise<boolean> {
    if (now - this.lastDataCheck < DATA_LOSS_CHECK_MS || this.redis.status !== 'ready') return false;
    this.lastDataCheck = now;
    const key = `${REDIS_MARKER_KEY}:${WORKER_ID}`;
    const intact = this.marker !== null && (await this.redis.get(key)) === this.marker;
    if (!intact) {
      const republished = await republishLostJobs(this.ds, { effects: this.effects, outbound: this.outboundQueue });
      await this.maintenance.scheduleHeartbeat();
      if (republished) this.logger.warn(`Redis had lost data: ${republished} effects published again`);
    }
    const next = `${now}-${Math.random().toString(36).slice(2, 8)}`;
    await this.redis.set(key, next, 'EX', MARKER_TTL_S);
    this.marker = next;
    return !intact;
  }

  /** Publishes one batch; returns how many rows it handled (0 while Redis is unreachable). */
  async relayOnce(): Promise<number> {
    if (!(await this.redisReady())) return 0;
    return this.ds.transaction('READ COMMITTED', async (em) => {
      const rows = (await em.query(
        `SELECT id, job_name, aggregate_id, payload, correlation_id FROM outbox
          WHERE sent_at IS NULL ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
      )) as OutboxRow[];
      if (!rows.length) return 0;
      const jobs: { name: string; queueName: QueueName; data: Record<string, unknown>; opts: JobsOptions }[] = [];
      const rollUps = new Map<string, OutboxRow>();
      const timers: OutboxRow[] = [];
      const notices: { row: OutboxRow; item: NotifyBatchItem }[] = [];
      for (const row of rows) {
        if (row.job_name === JobName.Notify) {
          const payload = JSON.parse(row.payload) as JobPayloads[JobName.Notify];
          notices.push({ row, item: { ...payload, outboxId: String(row.id), correlationId: row.correlation_id } });
          continue;
        }
        if (row.job_name === JobName.RollUp && row.aggregate_id) {
          rollUps.set(row.aggregate_id, row); // the latest row for a parent wins
          continue;
        }
        if (row.job_name === JobName.FireTimer) {
          timers.push(row);
          continue;
        }
        jobs.push(this.toJob(row, outboxJobId(row.id)));
      }
      for (const row of rollUps.values()) jobs.push(this.toJob(row, outboxJobId(row.id)));
      // notify rows go out together, a few jobs per pass; each batched row records the job it went out in
      const batches: { jobId: string; rowIds: string[] }[] = [];
      for (const group of notifyGroups(notices, (n) => n.item.taskIds?.length ?? 1)) {
        if (group.length === 1) {
          jobs.push(this.toJob(group[0].row, outboxJobId(group[0].row.id)));
          continue;
        }
        const rowIds = group.map((n) => n.item.outboxId);
        const id = notifyBatchJobId(rowIds);
        batches.push({ jobId: id, rowIds });
        jobs.push({
          name: JobName.NotifyBatch,
          queueName: QueueName.Effects,
          data: { items: group.map((n) => n.item) } satisfies JobPayloads[JobName.NotifyBatch],
          opts: { ...JOB_OPTIONS[JobName.NotifyBatch], jobId: id },
        });
      }
      // a job per timer row as its guarantee, and the wake-ups of the due-row drain (shared by rows due together)
      for (const job of timerJobs(
        timers.map((row) => ({
          ...(JSON.parse(row.payload) as JobPayloads[JobName.FireTimer]),
          outboxId: String(row.id),
          correlationId: row.correlation_id,
        })),
      ))
        jobs.push({ ...job, queueName: QueueName.Timers });
      // roll-up rows folded into a later row of the same parent are applied by that row's job
      const folded = rows.filter(
        (r) => r.job_name === JobName.RollUp && r.aggregate_id && rollUps.get(r.aggregate_id) !== r,
      );
      if (folded.length) {
        await em.query(
          `INSERT IGNORE INTO applied_effects (outbox_id, job_name) VALUES ${folded.map(() => "(?, 'roll-up-folded')").join(',')}`,
          folded.map((r) => r.id),
        );
      }
      const byQueue = (q: QueueName) => jobs.filter((j) => j.queueName === q).map(({ queueName: _q, ...job }) => job);
      await withTimeout(
        Promise.all([
          this.effects.addBulk(byQueue(QueueName.Effects)),
          this.timers.addBulk(byQueue(QueueName.Timers)),
          this.outboundQueue.addBulk(byQueue(QueueName.Outbound)),
        ]),
        PUBLISH_TIMEOUT_MS,
        `Redis did not take ${rows.length} jobs within ${PUBLISH_TIMEOUT_MS} ms`,
      );
      // job_id: the batch job a row went out in (NULL: the row's own job, outboxJobRoute)
      const jobIdSql = batches.length
        ? `CASE ${batches.map((b) => `WHEN id IN (${b.rowIds.map(() => '?').join(',')}) THEN ?`).join(' ')} ELSE NULL END`
        : 'NULL';
      await em.query(
        `UPDATE outbox SET sent_at = NOW(3), attempts = attempts + 1, job_id = ${jobIdSql}
          WHERE id IN (${rows.map(() => '?').join(',')})`,
        [...batches.flatMap((b) => [...b.rowIds, b.jobId]), ...rows.map((r) => r.id)],
      );
      return rows.length;
    });
  }

  /** Whether the queues' Redis connection is up (a worker's commands would otherwise wait for it indefinitely). */
  private async redisReady(): Promise<boolean> {
    const clients = await Promise.all([this.effects, this.timers, this.outboundQueue].map((q) => queueClient(q)));
    return clients.every((c) => c.status === 'ready');
  }

  private toJob(row: OutboxRow, id: string) {
    const name = row.job_name as JobName;
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    if (name === JobName.DeliverWebhook || name === JobName.SendSms) {
      // an outbound delivery: retried with the configured backoff, under the delivery row's own id
      const route = outboxJobRoute(name, payload, String(row.id));
      return {
        name,
        queueName: route.queueName,
        data: { ...payload, outboxId: String(row.id), correlationId: row.correlation_id },
        opts: {
          ...outboundJobOptions(name, this.outbound.webhookMaxAttempts, this.outbound.webhookBackoffMs),
          jobId: route.jobId,
        },
      };
    }
    return {
      name,
      queueName: QueueName.Effects,
      data: { ...payload, outboxId: String(row.id), correlationId: row.correlation_id },
      opts: { ...JOB_OPTIONS[name], jobId: id },
    };
  }
}

/**
 * Most notify rows one NotifyBatch job carries, and most tasks across them (a fan-out row names up to 500). Ten rows
 * per job keep about nine in ten of the per-job costs away, and a busy pass's rows still spread over the effects
 * worker's concurrency instead of one transaction doing them all (in one sitting, batches of up to 10 read 253–266
 * HTTP transitions/s and batches of up to 100 194–265: no difference beyond the noise; docs/PERFORMANCE.md).
 */
export const NOTIFY_BATCH_ROWS = 10;
export const NOTIFY_BATCH_TASKS = 500;

/**
 * Splits a pass's notify rows, in id order, into groups of at most NOTIFY_BATCH_ROWS rows and NOTIFY_BATCH_TASKS
 * tasks (`tasksOf`: how many tasks a row names).
 */
export function notifyGroups<R>(rows: readonly R[], tasksOf: (row: R) => number): R[][] {
  const groups: R[][] = [];
  let group: R[] = [];
  let tasks = 0;
  for (const row of rows) {
    const n = Math.max(tasksOf(row), 1);
    if (group.length && (group.length >= NOTIFY_BATCH_ROWS || tasks + n > NOTIFY_BATCH_TASKS)) {
      groups.push(group);
      group = [];
      tasks = 0;
    }
    group.push(row);
    tasks += n;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** Rejects with `message` when `work` takes longer than `ms` (the work itself is not cancelled). */
async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

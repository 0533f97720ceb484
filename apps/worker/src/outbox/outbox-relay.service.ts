import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import type { OutboundConfig, WorkerConfig } from '@gridflow/common';
import {
  JOB_OPTIONS,
  JobName,
  outboundJobOptions,
  outboxJobId,
  outboxJobRoute,
  QueueName,
  timerJobId,
} from '@gridflow/queue';

interface OutboxRow {
  id: string;
  job_name: string;
  aggregate_id: string | null;
  payload: string;
  correlation_id: string | null;
}

const BATCH = 500;

/**
 * Publishes outbox rows to BullMQ and marks them sent. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so any
 * number of workers can relay side by side; the outbox id is the job id, so publishing a row twice (a crash between
 * publish and mark) yields one job, and the consumers' applied-effects check makes a late duplicate a no-op.
 * Roll-ups of the same parent within one batch are coalesced into one job (the recompute reads current state).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly pollMs: number;
  private readonly outbound: OutboundConfig;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectQueue(QueueName.Effects) private readonly effects: Queue,
    @InjectQueue(QueueName.Timers) private readonly timers: Queue,
    @InjectQueue(QueueName.Outbound) private readonly outboundQueue: Queue,
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
    while (!this.stopped) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
      } catch (e) {
        this.logger.warn(`outbox relay: ${(e as Error).message}`);
      }
      if (relayed < BATCH) await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** Publishes one batch; returns how many rows it handled. */
  async relayOnce(): Promise<number> {
    return this.ds.transaction(async (em) => {
      const rows = (await em.query(
        `SELECT id, job_name, aggregate_id, payload, correlation_id FROM outbox
          WHERE sent_at IS NULL ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
      )) as OutboxRow[];
      if (!rows.length) return 0;
      const jobs: ReturnType<OutboxRelay['toJob']>[] = [];
      const rollUps = new Map<string, OutboxRow>();
      for (const row of rows) {
        if (row.job_name === JobName.RollUp && row.aggregate_id) {
          rollUps.set(row.aggregate_id, row); // the latest row for a parent wins
          continue;
        }
        jobs.push(this.toJob(row, outboxJobId(row.id)));
      }
      for (const row of rollUps.values()) jobs.push(this.toJob(row, outboxJobId(row.id)));
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
      await Promise.all([
        this.effects.addBulk(byQueue(QueueName.Effects)),
        this.timers.addBulk(byQueue(QueueName.Timers)),
        this.outboundQueue.addBulk(byQueue(QueueName.Outbound)),
      ]);
      await em.query(
        `UPDATE outbox SET sent_at = NOW(3), attempts = attempts + 1 WHERE id IN (${rows.map(() => '?').join(',')})`,
        rows.map((r) => r.id),
      );
      return rows.length;
    });
  }

  private toJob(row: OutboxRow, id: string) {
    const name = row.job_name as JobName;
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    if (name === JobName.FireTimer) {
      // a delayed job per timer row, woken at its due time
      const delay = Math.max(0, Date.parse(String(payload.dueAt)) - Date.now());
      return {
        name,
        queueName: QueueName.Timers,
        data: { ...payload, outboxId: String(row.id), correlationId: row.correlation_id },
        opts: { ...JOB_OPTIONS[name], jobId: timerJobId(String(payload.timerRowId)), delay },
      };
    }
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

import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';
import { withCorrelationId } from '@gridflow/common';
import { NotificationService, RollUpService } from '@gridflow/domain';
import { JOB_QUEUE, JobName, type JobPayloads, QueueName } from '@gridflow/queue';
import { pingDatabase, waitingOutOutages } from '../dependency-wait.js';

type Envelope<J extends JobName> = JobPayloads[J] & { outboxId: string; correlationId?: string | null };
type Handler = (em: EntityManager, data: never) => Promise<unknown>;

/**
 * Lock and stalled-job settings of the effects consumer. The jobs a killed worker held come back once their lock has
 * expired and a stalled check has seen them twice: with BullMQ's defaults (30 s and 30 s) that took a minute or more
 * in the fault runs; with these, about 20 s. Every effect is idempotent, so a job that stalls again (its worker killed
 * once more) is run again rather than failed for good.
 */
export const EFFECTS_WORKER_OPTIONS = {
  concurrency: 8,
  lockDuration: 10_000,
  stalledInterval: 5_000,
  maxStalledCount: 5,
};

/**
 * Consumes work published from the outbox. Each job runs in one transaction that first records its outbox id in
 * applied_effects: a duplicate delivery finds the id there and does nothing.
 */
@Processor(QueueName.Effects, EFFECTS_WORKER_OPTIONS)
export class EffectsProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(EffectsProcessor.name);
  private readonly handlers: Partial<Record<JobName, Handler>>;
  private readonly databaseUp: () => Promise<boolean>;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    notifications: NotificationService,
    rollUps: RollUpService,
  ) {
    super();
    this.databaseUp = pingDatabase(ds);
    this.handlers = {
      [JobName.Notify]: (em, data: Envelope<JobName.Notify>) => notifications.deliver(em, data),
      [JobName.RollUp]: (em, data: Envelope<JobName.RollUp>) => rollUps.rollUp(em, data.taskId),
    };
  }

  onApplicationBootstrap(): void {
    const expected = (Object.keys(JOB_QUEUE) as JobName[]).filter((j) => JOB_QUEUE[j] === QueueName.Effects);
    const missing = expected.filter((j) => !this.handlers[j]);
    if (missing.length) throw new Error(`No handler for effects jobs: ${missing.join(', ')}`);
  }

  /** The last failure of a job is written to its outbox row, where operators (and the sweeper) can see it. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, err: Error): Promise<void> {
    const outboxId = (job?.data as { outboxId?: string } | undefined)?.outboxId;
    this.logger.warn(`job ${job?.name} ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message}`);
    if (outboxId) {
      await this.ds
        .query('UPDATE outbox SET last_error = ? WHERE id = ?', [err.message.slice(0, 2000), outboxId])
        .catch(() => undefined);
    }
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.logger.warn(`effects worker: ${err.message}`);
  }

  async process(job: Job, token?: string): Promise<void> {
    const handler = this.handlers[job.name as JobName];
    if (!handler) throw new UnrecoverableError(`Unknown job ${job.name}`);
    const data = job.data as { outboxId?: string; correlationId?: string | null };
    if (!data.outboxId) throw new UnrecoverableError(`Job ${job.id} carries no outbox id`);
    // an unreachable database costs no attempt: the job sleeps until it is back (waitingOutOutages)
    await waitingOutOutages(
      job,
      token,
      () =>
        withCorrelationId(data.correlationId ?? `job-${job.id}`, () =>
          this.ds.transaction(async (em) => {
            const res = (await em.query('INSERT IGNORE INTO applied_effects (outbox_id, job_name) VALUES (?, ?)', [
              data.outboxId,
              job.name,
            ])) as { affectedRows?: number };
            if (!res.affectedRows) return; // already applied
            await handler(em, data as never);
          }),
        ),
      this.databaseUp,
    );
  }
}

import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';
import { isDependencyUnavailable, withCorrelationId } from '@gridflow/common';
import { NotificationService, RollUpService } from '@gridflow/domain';
import { JOB_QUEUE, JobName, type JobPayloads, type NotifyBatchItem, QueueName, unknownJob } from '@gridflow/queue';
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
 * applied_effects: a duplicate delivery finds the id there and does nothing. A NotifyBatch job carries many notify
 * rows and records and delivers those not applied yet together (`processBatch`).
 */
@Processor(QueueName.Effects, EFFECTS_WORKER_OPTIONS)
export class EffectsProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(EffectsProcessor.name);
  private readonly handlers: Partial<Record<JobName, Handler>>;
  private readonly databaseUp: () => Promise<boolean>;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly notifications: NotificationService,
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
    const missing = expected.filter((j) => j !== JobName.NotifyBatch && !this.handlers[j]);
    if (missing.length) throw new Error(`No handler for effects jobs: ${missing.join(', ')}`);
  }

  /** The last failure of a job is written to its outbox row, where operators (and the sweeper) can see it. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, err: Error): Promise<void> {
    const data = job?.data as { outboxId?: string; items?: { outboxId?: string }[] } | undefined;
    const outboxIds = (data?.items?.map((i) => i.outboxId) ?? [data?.outboxId]).filter((id): id is string => !!id);
    this.logger.warn(`job ${job?.name} ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message}`);
    if (outboxIds.length) {
      // on the rows still not applied (a batch's other rows may have been delivered)
      await this.ds
        .query(
          `UPDATE outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id SET o.last_error = ?
            WHERE o.id IN (${outboxIds.map(() => '?').join(',')}) AND a.outbox_id IS NULL`,
          [err.message.slice(0, 2000), ...outboxIds],
        )
        .catch(() => undefined);
    }
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.logger.warn(`effects worker: ${err.message}`);
  }

  async process(job: Job, token?: string): Promise<void> {
    if (job.name === JobName.NotifyBatch) return this.processBatch(job, token);
    const handler = this.handlers[job.name as JobName];
    if (!handler) throw new UnrecoverableError(unknownJob(job.name));
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

  /**
   * A NotifyBatch job: its rows not applied yet are recorded in applied_effects and delivered in one transaction.
   * When that fails while the database answers (anything but an outage), each row is tried in a transaction of its
   * own, so that a row that cannot be delivered does not hold back the others; the job then fails (and is retried)
   * for those rows alone. Another job delivering some of the same rows at once (a batch published again in another
   * grouping while the first still ran) is caught by the applied_effects insert, which waits for that job's commit:
   * when it inserts fewer rows than expected, the rows are taken one by one, each reading what is applied afresh.
   */
  private async processBatch(job: Job, token?: string): Promise<void> {
    const items = (job.data as Partial<JobPayloads[JobName.NotifyBatch]>).items;
    if (!items?.length || items.some((i) => !i.outboxId)) throw new UnrecoverableError(`Job ${job.id} carries no outbox ids`);
    const deliver = (batch: NotifyBatchItem[]) =>
      withCorrelationId(batch.length === 1 ? (batch[0].correlationId ?? `job-${job.id}`) : `job-${job.id}`, () =>
        this.ds.transaction((em) => this.applyNotices(em, batch)),
      );
    // an outage is waited out (waitingOutOutages); any other failure, a dropped connection included, is the batch's
    const outage = async (err: unknown) => isDependencyUnavailable(err) && !(await this.databaseUp());
    await waitingOutOutages(
      job,
      token,
      async () => {
        try {
          await deliver(items);
        } catch (err) {
          if (items.length === 1 || (await outage(err))) throw err;
          this.logger.warn(`job ${job.name} ${job.id}: ${(err as Error).message}; delivering its ${items.length} rows one by one`);
          const failed: { outboxId: string; error: Error }[] = [];
          for (const item of items) {
            try {
              await deliver([item]);
            } catch (e) {
              if (await outage(e)) throw e;
              failed.push({ outboxId: item.outboxId, error: e as Error });
            }
          }
          if (failed.length) {
            throw new Error(
              `${failed.length} of ${items.length} notify rows failed (outbox ${failed.map((f) => f.outboxId).join(', ')}): ${failed[0].error.message}`,
              { cause: err },
            );
          }
        }
      },
      this.databaseUp,
    );
  }

  private async applyNotices(em: EntityManager, items: NotifyBatchItem[]): Promise<void> {
    const ids = items.map((i) => String(i.outboxId));
    const applied = new Set(
      (
        (await em.query(`SELECT outbox_id FROM applied_effects WHERE outbox_id IN (${ids.map(() => '?').join(',')})`, ids)) as {
          outbox_id: string | number;
        }[]
      ).map((r) => String(r.outbox_id)),
    );
    const todo = items.filter((i) => !applied.has(String(i.outboxId)));
    if (!todo.length) return;
    const res = (await em.query(
      `INSERT IGNORE INTO applied_effects (outbox_id, job_name) VALUES ${todo.map(() => '(?, ?)').join(',')}`,
      todo.flatMap((i) => [i.outboxId, JobName.Notify]),
    )) as { affectedRows?: number };
    if (Number(res.affectedRows ?? 0) !== todo.length) {
      // another job applied some of these rows meanwhile (its insert held ours until it committed)
      if (todo.length === 1) return;
      throw new Error(`${todo.length - Number(res.affectedRows ?? 0)} of ${todo.length} notify rows were applied by another job meanwhile`);
    }
    await this.notifications.deliverMany(em, todo);
  }
}

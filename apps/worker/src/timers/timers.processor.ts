import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { withCorrelationId, type WorkerConfig } from '@gridflow/common';
import { type FireOutcome, TimerFiringService } from '@gridflow/domain';
import { JOB_QUEUE, JobName, type JobPayloads, QueueName } from '@gridflow/queue';
import { FireBatcher } from './fire-batcher.js';

/**
 * Timer jobs in flight per worker. Cheap: the jobs only wait for their row's batch (FireBatcher), and the batches are
 * what reaches the database.
 */
export const TIMER_CONCURRENCY = 1024;
/** Rows per firing batch, and how many batches (transactions) may run at once. */
export const TIMER_BATCH = { maxSize: 500, maxInFlight: 4 };

/**
 * Wakes at a timer row's due time (a BullMQ delayed job with the id `timer-<row>`) and fires the row. The row is the
 * truth: the firing re-reads it and the task, so a duplicate or late delivery of a fired or cancelled timer changes
 * nothing. A job that arrives before the row's due time is put back to sleep until then.
 */
@Processor(QueueName.Timers, {
  concurrency: TIMER_CONCURRENCY,
  // the timer jobs a killed worker held come back within ~15 s instead of a minute (BullMQ's 30 s defaults); the
  // firing is idempotent, so a job that stalls again runs again rather than failing for good
  lockDuration: 10_000,
  stalledInterval: 5_000,
  maxStalledCount: 5,
})
export class TimersProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(TimersProcessor.name);
  private readonly batcher: FireBatcher;

  constructor(
    private readonly firing: TimerFiringService,
    private readonly config: ConfigService,
  ) {
    super();
    this.batcher = new FireBatcher((ids) => this.firing.fireMany(ids), TIMER_BATCH);
  }

  onApplicationBootstrap(): void {
    const expected = (Object.keys(JOB_QUEUE) as JobName[]).filter((j) => JOB_QUEUE[j] === QueueName.Timers);
    const missing = expected.filter((j) => j !== JobName.FireTimer);
    if (missing.length) throw new Error(`No handler for timers jobs: ${missing.join(', ')}`);
    const configured = this.config.get<WorkerConfig>('worker')?.concurrency ?? 0;
    this.worker.concurrency = Math.max(TIMER_CONCURRENCY, configured);
  }

  async process(job: Job, token?: string): Promise<FireOutcome['kind']> {
    if (job.name !== JobName.FireTimer) throw new UnrecoverableError(`Unknown job ${job.name}`);
    const data = job.data as JobPayloads[JobName.FireTimer] & { correlationId?: string | null };
    if (!data.timerRowId) throw new UnrecoverableError(`Job ${job.id} carries no timer row id`);
    const outcome = await withCorrelationId(data.correlationId ?? `job-${job.id}`, () =>
      this.batcher.submit(data.timerRowId),
    );
    if (outcome.kind === 'not-due') {
      await job.moveToDelayed(outcome.dueAt.getTime(), token);
      throw new DelayedError();
    }
    return outcome.kind;
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    // connection trouble, or a job whose keys vanished under it (Redis flushed): the sweeper rebuilds from MySQL
    this.logger.warn(`timers worker: ${error.message}`);
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job || job.name !== JobName.FireTimer) return;
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts && !(error instanceof UnrecoverableError)) return;
    const data = job.data as Partial<JobPayloads[JobName.FireTimer]>;
    if (!data.timerRowId) return;
    this.logger.error(`timer ${data.timerRowId} failed after ${job.attemptsMade} attempts: ${error.message}`);
    await this.firing.recordFailure(data.timerRowId, `${error.name}: ${error.message}`).catch(() => undefined);
  }
}

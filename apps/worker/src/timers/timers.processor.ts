import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { DataSource } from 'typeorm';
import { withCorrelationId, type WorkerConfig } from '@gridflow/common';
import { type FireOutcome, TimerFiringService } from '@gridflow/domain';
import { JOB_QUEUE, JobName, type JobPayloads, QueueName, unknownJob } from '@gridflow/queue';
import { pingDatabase, waitingOutOutages } from '../dependency-wait.js';
import { FireBatcher } from './fire-batcher.js';
import { TimerDrain, type TimerDrainOptions } from './timer-drain.js';

/**
 * Timer jobs in flight per worker. Cheap: the jobs only wait for their row's batch (FireBatcher), and the batches are
 * what reaches the database.
 */
export const TIMER_CONCURRENCY = 1024;
/**
 * Rows per firing batch, how many batches (transactions) may run at once, and how many settled outcomes the worker
 * remembers (so the jobs of rows the drain fired cost no round trip).
 */
export const TIMER_BATCH = { maxSize: 500, maxInFlight: 4, remember: 200_000 };
/** The due-row drain (see TimerDrain). */
export const TIMER_DRAIN: TimerDrainOptions = {
  pollMs: 20,
  lookaheadMs: 1_000,
  readLimit: 1_000,
  maxWaiting: 1_000,
  failedBackoffMs: 60_000,
  rewindEveryMs: 1_000,
  watchEveryMs: 2_000,
  overdueMs: 3_000,
};

/**
 * Fires timer rows at their due time. A WakeTimers job (one per 100 ms slot in which rows come due, `timerJobs`) wakes
 * the due-row drain, which reads the rows due by now from MySQL and fires them in batches (TimerDrain, FireBatcher).
 * Each row also has its own delayed job, `timer-<row>`, due TIMER_JOB_GRACE_MS after the row: it fires a row the
 * drain did not (and wakes the drain too); for a row the drain fired it is answered from the batcher's memory or by a
 * read. The row is the truth: the firing re-reads it and the task, so a duplicate or late delivery of a fired or
 * cancelled timer changes nothing. A job that arrives before the row's due time is put back to sleep until then.
 */
@Processor(QueueName.Timers, {
  concurrency: TIMER_CONCURRENCY,
  // the timer jobs a killed worker held come back within ~15 s instead of a minute (BullMQ's 30 s defaults); the
  // firing is idempotent, so a job that stalls again runs again rather than failing for good
  lockDuration: 10_000,
  stalledInterval: 5_000,
  maxStalledCount: 5,
})
export class TimersProcessor extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TimersProcessor.name);
  private readonly batcher: FireBatcher;
  private readonly drain: TimerDrain;

  constructor(
    private readonly firing: TimerFiringService,
    private readonly config: ConfigService,
    @InjectDataSource() private readonly ds: DataSource,
  ) {
    super();
    this.batcher = new FireBatcher((ids, known) => this.firing.fireMany(ids, new Date(), known), TIMER_BATCH);
    this.drain = new TimerDrain(this.firing, this.batcher, TIMER_DRAIN, (e) =>
      this.logger.warn(`timer drain: ${(e as Error).message}`),
    );
  }

  onApplicationBootstrap(): void {
    const expected = (Object.keys(JOB_QUEUE) as JobName[]).filter((j) => JOB_QUEUE[j] === QueueName.Timers);
    const missing = expected.filter((j) => j !== JobName.FireTimer && j !== JobName.WakeTimers);
    if (missing.length) throw new Error(`No handler for timers jobs: ${missing.join(', ')}`);
    const configured = this.config.get<WorkerConfig>('worker')?.concurrency ?? 0;
    this.worker.concurrency = Math.max(TIMER_CONCURRENCY, configured);
    // rows that came due while no worker ran fire now, not when their jobs come round; and rows whose jobs Redis
    // lost fire within seconds, not at the next sweep
    this.drain.kick();
    this.drain.watch();
  }

  /**
   * Before the connections close (TypeORM and the BullMQ workers close in the next phase): no new job, no new drain
   * pass, and the batches already started finish.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
    await this.drain.stop();
    await this.batcher.whenIdle(30_000);
  }

  async process(job: Job, token?: string): Promise<FireOutcome['kind'] | 'woken'> {
    if (job.name === JobName.WakeTimers) {
      this.drain.kick();
      return 'woken';
    }
    if (job.name !== JobName.FireTimer) throw new UnrecoverableError(unknownJob(job.name));
    const data = job.data as JobPayloads[JobName.FireTimer] & { correlationId?: string | null };
    if (!data.timerRowId) throw new UnrecoverableError(`Job ${job.id} carries no timer row id`);
    this.drain.kick();
    const outcome = await waitingOutOutages(
      job,
      token,
      () => withCorrelationId(data.correlationId ?? `job-${job.id}`, () => this.batcher.submit(data.timerRowId)),
      pingDatabase(this.ds),
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

import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { isDeadlock, SupervisionService } from '@gridflow/domain';
import {
  JOB_QUEUE,
  JobName,
  jobsHeld,
  outboxJobRoute,
  queueClient,
  QueueName,
  timerJobId,
  timerJobs,
  UNKNOWN_JOB,
} from '@gridflow/queue';

/** How often the sweep runs (and once at boot). */
export const SWEEP_EVERY_MS = 30_000;
/** Pending timers due within this horizon have their delayed job checked (and re-added when Redis lost it). */
export const SWEEP_HORIZON_MS = 60_000;
/** After a sweep lost to a lock conflict (deadlock victim, lock wait timeout), the next one comes this soon. */
export const SWEEP_RETRY_MS = 1_000;
/** …at most this many times in a row; then the sweep waits its full period again. */
export const SWEEP_QUICK_RETRIES = 3;

/**
 * When the next sweep runs: after a sweep that lost a lock conflict to a task action, soon (the conflict is over in
 * milliseconds, and the timers it would have rescheduled should not wait 30 s); otherwise after the full period.
 */
export function nextSweepDelay(failure: unknown, quickRetriesSoFar: number): number {
  const code = (failure as { code?: string } | null)?.code;
  const lockConflict = isDeadlock(failure) || code === 'ER_LOCK_WAIT_TIMEOUT';
  return lockConflict && quickRetriesSoFar < SWEEP_QUICK_RETRIES ? SWEEP_RETRY_MS : SWEEP_EVERY_MS;
}

/** A pending timer this far past its due time is looked at closely: its job's state, not only its existence. */
export const SWEEP_GRACE_MS = 5_000;
/** An outbox row sent this long ago with no applied effect has its job checked (and is republished when lost). */
export const OUTBOX_STUCK_MS = 60_000;
const BATCH = 1000;
const MAX_TIMERS_PER_SWEEP = 50_000;

export interface SweepReport {
  timersChecked: number;
  timersRescheduled: number;
  timersPromoted: number;
  outboxRepublished: number;
  /** Effects jobs a worker of an earlier release failed as unknown, run again (see `retryUnknownJobs`). */
  outboxJobsRetried: number;
  overdueMarked: number;
  overdueCleared: number;
  supervisionResolved: number;
}

interface DueTimer {
  id: string;
  task_id: string;
  due_at: Date;
}

/**
 * Rebuilds what Redis may have lost from MySQL, the truth. At boot and every 30 s:
 * - pending timers due within the next minute (or already due) whose delayed job is missing — Redis restarted or
 *   flushed — get it back under the same deterministic id `timer-<row>`, with the wake-up of the due-row drain at the row's
 *   due time (`timerJobs`); a pending timer well past its due time whose
 *   job is still delayed is promoted, and one whose job completed is re-enqueued (the firing is idempotent);
 * - outbox rows marked sent more than a minute ago, never applied, and whose job is gone are handed back to the
 *   relay (their job ids are deterministic too, so a job that still exists is never duplicated);
 * - open tasks past their due time get `overdue_since`, extended ones lose it; supervision entries of closed tasks
 *   are resolved.
 * Any number of workers may sweep at once: every write is idempotent.
 */
@Injectable()
export class TimerSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TimerSweeper.name);
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectQueue(QueueName.Timers) private readonly timers: Queue,
    @InjectQueue(QueueName.Effects) private readonly effects: Queue,
    @InjectQueue(QueueName.Outbound) private readonly outbound: Queue,
    private readonly supervision: SupervisionService,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let quickRetries = 0;
    while (!this.stopped) {
      let failure: unknown = null;
      try {
        const r = await this.sweepOnce();
        if (r.timersRescheduled || r.timersPromoted || r.outboxRepublished || r.outboxJobsRetried)
          this.logger.warn(`sweep repaired: ${JSON.stringify(r)}`);
      } catch (e) {
        failure = e;
        this.logger.warn(`sweep: ${(e as Error).message}`);
      }
      if (this.stopped) break;
      const wait = nextSweepDelay(failure, quickRetries);
      quickRetries = wait < SWEEP_EVERY_MS ? quickRetries + 1 : 0;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async sweepOnce(now = Date.now()): Promise<SweepReport> {
    const report: SweepReport = {
      timersChecked: 0,
      timersRescheduled: 0,
      timersPromoted: 0,
      outboxRepublished: 0,
      outboxJobsRetried: 0,
      overdueMarked: 0,
      overdueCleared: 0,
      supervisionResolved: 0,
    };
    await this.sweepTimers(now, report);
    Object.assign(report, await this.sweepOutbox());
    const marked = (await this.ds.query(
      'UPDATE tasks SET overdue_since = due_at WHERE is_open = 1 AND overdue_since IS NULL AND due_at < NOW(3) LIMIT 1000',
    )) as { affectedRows?: number };
    report.overdueMarked = marked.affectedRows ?? 0;
    const cleared = (await this.ds.query(
      'UPDATE tasks SET overdue_since = NULL WHERE is_open = 1 AND overdue_since IS NOT NULL AND due_at >= NOW(3) LIMIT 1000',
    )) as { affectedRows?: number };
    report.overdueCleared = cleared.affectedRows ?? 0;
    report.supervisionResolved = await this.supervision.resolveClosed();
    return report;
  }

  private async sweepTimers(now: number, report: SweepReport): Promise<void> {
    let after: { due: Date; id: string } | null = null;
    while (report.timersChecked < MAX_TIMERS_PER_SWEEP) {
      const rows = (await this.ds.query(
        `SELECT id, task_id, due_at FROM task_timers
          WHERE status = 'pending' AND last_error IS NULL AND due_at <= ?
            ${after ? 'AND (due_at > ? OR (due_at = ? AND id > ?))' : ''}
          ORDER BY due_at, id LIMIT ${BATCH}`,
        after ? [new Date(now + SWEEP_HORIZON_MS), after.due, after.due, after.id] : [new Date(now + SWEEP_HORIZON_MS)],
      )) as DueTimer[];
      if (!rows.length) return;
      report.timersChecked += rows.length;
      const exists = await jobsHeld(rows.map((r) => ({ queue: this.timers, jobId: timerJobId(r.id) })));
      const lost = rows.filter((_, i) => !exists[i]);
      const late = rows.filter((r, i) => exists[i] && new Date(r.due_at).getTime() < now - SWEEP_GRACE_MS);
      for (const r of late) {
        const job = await this.timers.getJob(timerJobId(r.id));
        if (!job) {
          lost.push(r);
          continue;
        }
        const state = await job.getState();
        if (state === 'delayed') {
          await job.promote().catch(() => undefined);
          report.timersPromoted += 1;
        } else if (state === 'completed') {
          await job.remove().catch(() => undefined);
          lost.push(r);
        }
      }
      if (lost.length) {
        await this.timers.addBulk(
          timerJobs(
            lost.map((r) => ({
              timerRowId: r.id,
              taskId: r.task_id,
              dueAt: new Date(r.due_at).toISOString(),
              correlationId: `sweep-${r.id}`,
            })),
          ),
        );
        report.timersRescheduled += lost.length;
      }
      const last = rows[rows.length - 1];
      after = { due: new Date(last.due_at), id: last.id };
      if (rows.length < BATCH) return;
    }
  }

  /** Outbox rows sent but never applied whose job is gone go back to the relay (sent_at = NULL). */
  private async sweepOutbox(): Promise<{ outboxRepublished: number; outboxJobsRetried: number }> {
    const rows = (await this.ds.query(
      `SELECT o.id, o.job_name, o.payload, o.job_id FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id
        WHERE o.sent_at BETWEEN NOW(3) - INTERVAL 1 DAY AND NOW(3) - INTERVAL ${OUTBOX_STUCK_MS / 1000} SECOND
          AND a.outbox_id IS NULL AND o.job_name <> ?
        ORDER BY o.id LIMIT ${BATCH}`,
      [JobName.FireTimer],
    )) as { id: string; job_name: string; payload: string; job_id: string | null }[];
    if (!rows.length) return { outboxRepublished: 0, outboxJobsRetried: 0 };
    // outbound rows (webhooks, SMS) are published under their delivery row's id on the outbound queue
    const routes = rows.map((r) =>
      outboxJobRoute(r.job_name as JobName, JSON.parse(r.payload) as Record<string, unknown>, String(r.id), r.job_id),
    );
    const isOutbound = routes.map((r) => r.queueName === QueueName.Outbound);
    const exists = await jobsHeld(routes.map((r, i) => ({ queue: isOutbound[i] ? this.outbound : this.effects, jobId: r.jobId })));
    const outboxJobsRetried = await this.retryUnknownJobs([
      ...new Set(routes.filter((r, i) => exists[i] && !isOutbound[i]).map((r) => r.jobId)),
    ]);
    const lost = rows.filter((_, i) => !exists[i]).map((r) => String(r.id));
    if (!lost.length) return { outboxRepublished: 0, outboxJobsRetried };
    await this.ds.query(
      `UPDATE outbox SET sent_at = NULL WHERE id IN (${lost.map(() => '?').join(',')}) AND sent_at IS NOT NULL`,
      lost,
    );
    return { outboxRepublished: lost.length, outboxJobsRetried };
  }

  /**
   * Runs again the effects jobs among `jobIds` that failed as unknown to the worker that took them (`UNKNOWN_JOB`)
   * although this release runs them on the effects queue: a worker of an earlier release took them during an upgrade
   * (`notify-batch`). That failure says nothing about the effect. The job is retried where it is (BullMQ moves it from
   * failed to waiting atomically, so sweepers of several workers retry it once between them) and keeps its id and
   * its rows. A name this release does not run either (a later release's, after a rollback) and any other failure
   * are left for an operator, as before. Returns how many jobs were retried.
   */
  private async retryUnknownJobs(jobIds: string[]): Promise<number> {
    if (!jobIds.length) return 0;
    const pipeline = (await queueClient(this.effects)).pipeline();
    for (const id of jobIds) pipeline.zscore(this.effects.toKey('failed'), id).hmget(this.effects.toKey(id), 'name', 'failedReason');
    const results = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
    let retried = 0;
    for (const [i, id] of jobIds.entries()) {
      const [[scoreErr, score], [hashErr, fields]] = [results[2 * i], results[2 * i + 1]];
      if (scoreErr || hashErr || score === null) continue;
      const [name, reason] = fields as [string | null, string | null];
      if (!reason?.startsWith(UNKNOWN_JOB) || JOB_QUEUE[name as JobName] !== QueueName.Effects) continue;
      const job = await this.effects.getJob(id);
      if (!job) continue;
      try {
        // a fresh set of attempts: the failure was not the job's
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        retried += 1;
        this.logger.warn(`job ${id} (${name}) failed as "${reason}", from a worker of an earlier release: running it again`);
      } catch {
        // retried meanwhile by another sweeper, or no longer failed
      }
    }
    return retried;
  }
}

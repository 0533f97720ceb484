import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { JOB_QUEUE, JobName, type JobPayloads, QueueName } from './queues.js';

const effect: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10000 },
  removeOnFail: false,
};

/** Retry and retention options per job, in one place. Failed jobs are kept for inspection. */
export const JOB_OPTIONS: Record<JobName, JobsOptions> = {
  [JobName.Heartbeat]: { attempts: 1, removeOnComplete: 100, removeOnFail: 1000 },
  [JobName.Notify]: effect,
  [JobName.NotifyBatch]: effect,
  [JobName.RollUp]: effect,
  // firing is idempotent (the row is the truth): completed timer jobs need not be kept
  [JobName.FireTimer]: { ...effect, removeOnComplete: true },
  // a wake-up only starts the drain (which reads MySQL): nothing to retry or keep
  [JobName.WakeTimers]: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  // defaults; the relay applies WEBHOOK_MAX_ATTEMPTS / WEBHOOK_BACKOFF_MS (see outboundJobOptions)
  [JobName.DeliverWebhook]: {
    ...effect,
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 86400, count: 10000 },
  },
  [JobName.SendSms]: {
    ...effect,
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 86400, count: 10000 },
  },
};

/** Options of an outbound job with the configured retry policy: `attempts` tries, exponential backoff from `backoffMs`. */
export function outboundJobOptions(
  name: JobName.DeliverWebhook | JobName.SendSms,
  attempts: number,
  backoffMs: number,
): JobsOptions {
  return { ...JOB_OPTIONS[name], attempts, backoff: { type: 'exponential', delay: backoffMs } };
}

export const HEARTBEAT_EVERY_MS = 10_000;

/** Custom job ids must not contain ':' (BullMQ uses it as its key separator). */
export function jobId(...parts: (string | number)[]): string {
  const id = parts.join('-');
  if (id.includes(':')) throw new Error(`Job id "${id}" must not contain ':'`);
  return id;
}

/** The job id of an outbox row: publishing the same row twice yields one job. */
export const outboxJobId = (outboxId: string | number) => jobId('outbox', outboxId);

/**
 * The job id of a NotifyBatch job: derived from the outbox ids it carries, so publishing the same rows together again
 * yields the same job, and rows published again in another grouping get a job of their own.
 */
export function notifyBatchJobId(outboxIds: readonly (string | number)[]): string {
  const digest = createHash('sha256').update(outboxIds.join(',')).digest('hex').slice(0, 16);
  return jobId('notify-batch', outboxIds[0], outboxIds.length, digest);
}

/** The job id of a timer row: scheduling the same timer twice yields one delayed job. */
export const timerJobId = (timerRowId: string) => jobId('timer', timerRowId);

/**
 * A timer row's own job runs this long after the row's due time. At the due time the row is fired by the due-row
 * drain, which the slot's WakeTimers job wakes; the row's job is the guarantee for a row the drain did not fire (the
 * drain's batch failed, the worker stopped), and it finds a fired row settled. Kept out of the due time itself, the
 * jobs of a burst of rows due together do not compete with the burst's firing for Redis and the worker's CPU.
 */
export const TIMER_JOB_GRACE_MS = 2_000;
/** Rows due within the same slot of this length share one WakeTimers job, due at the slot's start. */
export const TIMER_WAKE_SLOT_MS = 100;

/** The job id of the wake-up of the slot starting at `slotStartMs`: the rows of one slot share one job. */
export const timerWakeJobId = (slotStartMs: number) => jobId('timers-wake', slotStartMs);

/**
 * The jobs that schedule timer rows: one delayed FireTimer job per row under its deterministic id, due
 * TIMER_JOB_GRACE_MS after the row, and one WakeTimers job per TIMER_WAKE_SLOT_MS slot the rows fall in, due at the
 * slot's start (a slot already begun wakes the drain at once). Adding them twice yields the same jobs, except that a
 * wake-up that has run already runs again: it only wakes the drain.
 */
export function timerJobs(
  rows: (JobPayloads[JobName.FireTimer] & Record<string, unknown>)[],
  now = Date.now(),
): { name: JobName; data: Record<string, unknown>; opts: JobsOptions }[] {
  const jobs: { name: JobName; data: Record<string, unknown>; opts: JobsOptions }[] = [];
  const slots = new Set<number>();
  for (const row of rows) {
    // the row is the truth: a payload without a readable due time wakes the worker now, and the firing reads the row
    const parsed = Date.parse(row.dueAt);
    const due = Number.isNaN(parsed) ? now : parsed;
    jobs.push({
      name: JobName.FireTimer,
      data: row,
      opts: {
        ...JOB_OPTIONS[JobName.FireTimer],
        jobId: timerJobId(row.timerRowId),
        delay: Math.max(0, due + TIMER_JOB_GRACE_MS - now),
      },
    });
    slots.add(due - (due % TIMER_WAKE_SLOT_MS));
  }
  for (const at of slots)
    jobs.push({
      name: JobName.WakeTimers,
      data: { at } satisfies JobPayloads[JobName.WakeTimers],
      opts: { ...JOB_OPTIONS[JobName.WakeTimers], jobId: timerWakeJobId(at), delay: Math.max(0, at - now) },
    });
  return jobs;
}

/** The job id of a webhook delivery row: queueing the same delivery twice yields one job. */
export const webhookJobId = (deliveryId: string) => jobId('webhook', deliveryId);

/** The job id of an sms_outbox row. */
export const smsJobId = (smsId: string) => jobId('sms', smsId);

/**
 * The queue and job id an outbox row is published under: a timer row's or an outbound row's own id (so the same
 * timer or delivery queued twice is one job), the batch job a notify row went out in (`batchJobId`, the row's
 * job_id), else the outbox id.
 */
export function outboxJobRoute(
  name: JobName,
  payload: Record<string, unknown>,
  outboxId: string,
  batchJobId?: string | null,
): { queueName: QueueName; jobId: string } {
  if (batchJobId) return { queueName: JOB_QUEUE[JobName.NotifyBatch], jobId: batchJobId };
  if (name === JobName.FireTimer) return { queueName: QueueName.Timers, jobId: timerJobId(String(payload.timerRowId)) };
  if (name === JobName.DeliverWebhook)
    return { queueName: QueueName.Outbound, jobId: webhookJobId(String(payload.deliveryId)) };
  if (name === JobName.SendSms) return { queueName: QueueName.Outbound, jobId: smsJobId(String(payload.smsId)) };
  return { queueName: JOB_QUEUE[name] ?? QueueName.Effects, jobId: outboxJobId(outboxId) };
}

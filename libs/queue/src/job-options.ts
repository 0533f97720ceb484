import type { JobsOptions } from 'bullmq';
import { JOB_QUEUE, JobName, QueueName } from './queues.js';

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
  [JobName.RollUp]: effect,
  // firing is idempotent (the row is the truth): completed timer jobs need not be kept
  [JobName.FireTimer]: { ...effect, removeOnComplete: true },
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

/** The job id of a timer row: scheduling the same timer twice yields one delayed job. */
export const timerJobId = (timerRowId: string) => jobId('timer', timerRowId);

/** The job id of a webhook delivery row: queueing the same delivery twice yields one job. */
export const webhookJobId = (deliveryId: string) => jobId('webhook', deliveryId);

/** The job id of an sms_outbox row. */
export const smsJobId = (smsId: string) => jobId('sms', smsId);

/**
 * The queue and job id an outbox row is published under: a timer row's or an outbound row's own id (so the same
 * timer or delivery queued twice is one job), else the outbox id.
 */
export function outboxJobRoute(
  name: JobName,
  payload: Record<string, unknown>,
  outboxId: string,
): { queueName: QueueName; jobId: string } {
  if (name === JobName.FireTimer) return { queueName: QueueName.Timers, jobId: timerJobId(String(payload.timerRowId)) };
  if (name === JobName.DeliverWebhook)
    return { queueName: QueueName.Outbound, jobId: webhookJobId(String(payload.deliveryId)) };
  if (name === JobName.SendSms) return { queueName: QueueName.Outbound, jobId: smsJobId(String(payload.smsId)) };
  return { queueName: JOB_QUEUE[name] ?? QueueName.Effects, jobId: outboxJobId(outboxId) };
}

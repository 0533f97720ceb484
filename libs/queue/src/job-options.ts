import type { JobsOptions } from 'bullmq';
import { JobName } from './queues.js';

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
};

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

/**
 * Queue and job names. These strings are stored in Redis with every job: never rename one casually —
 * a renamed queue strands the jobs already waiting in the old one.
 */
export enum QueueName {
  Maintenance = 'maintenance',
}

export enum JobName {
  /** Each worker records that it is alive; proves the API → Redis → worker → MySQL wiring. */
  Heartbeat = 'heartbeat',
}

/** One typed payload per job name. Payloads carry ids only; MySQL is the truth. */
export interface JobPayloads {
  [JobName.Heartbeat]: { scheduledBy: string };
}

/** Which queue each job runs on. */
export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.Heartbeat]: QueueName.Maintenance,
};

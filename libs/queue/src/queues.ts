/**
 * Queue and job names. These strings are stored in Redis with every job: never rename one casually —
 * a renamed queue strands the jobs already waiting in the old one.
 */
export enum QueueName {
  Maintenance = 'maintenance',
  /** Work derived from task changes, published from the outbox. */
  Effects = 'effects',
  /**
   * Durable workflow timers: delayed jobs that wake the worker's due-row drain when timer rows come due (one shared
   * wake-up per 100 ms slot), and each row's own job shortly after, as its guarantee (`timerJobs`).
   */
  Timers = 'timers',
  /** Outbound notification channels (webhooks, SMS): slow, external, retried with backoff. */
  Outbound = 'outbound',
}

export enum JobName {
  /** Each worker records that it is alive; proves the API → Redis → worker → MySQL wiring. */
  Heartbeat = 'heartbeat',
  /** Deliver an in-app notification about a task to the users of a unit. */
  Notify = 'notify',
  /**
   * Deliver the notify outbox rows of one relay pass together (`items`, each with its outbox id): one job and one
   * transaction instead of one per row. Only the relay makes these; an outbox row's job_name stays `notify`.
   */
  NotifyBatch = 'notify-batch',
  /** Recompute a parent task's progress and child counts from its children, then move up the tree. */
  RollUp = 'roll-up',
  /**
   * Fire one task_timers row (a delayed job; the row is the truth). It runs TIMER_JOB_GRACE_MS after the row's due
   * time: the row is normally fired at its due time by the due-row drain, which a WakeTimers job wakes; this job is
   * the guarantee for a row the drain did not fire.
   */
  FireTimer = 'fire-timer',
  /** Wake the due-row drain at the start of a slot in which timer rows come due (one job per slot, shared). */
  WakeTimers = 'wake-timers',
  /** POST one webhook_deliveries row to its endpoint (the row is the truth; a delivered row is a no-op). */
  DeliverWebhook = 'deliver-webhook',
  /** Send one sms_outbox row through the configured SMS driver (a sent row is a no-op). */
  SendSms = 'send-sms',
}

/**
 * How a processor fails a job whose name it does not know (`Unknown job <name>`), in this release and the earlier
 * ones. Such a job was taken by a worker of an earlier release during an upgrade; the sweeper runs it again once a
 * worker that knows it is there.
 */
export const UNKNOWN_JOB = 'Unknown job';
export const unknownJob = (name: string): string => `${UNKNOWN_JOB} ${name}`;

/** One typed payload per job name. Payloads carry ids only; MySQL is the truth. */
export interface JobPayloads {
  [JobName.Heartbeat]: { scheduledBy: string };
  /** One task (`taskId`), or many sibling tasks of a fan-out (`taskIds`), each notified about its event `eventSeq`. */
  [JobName.Notify]: {
    taskId?: string;
    taskIds?: string[];
    eventSeq: number;
    template: string;
    to: string;
    userIds?: string[];
  };
  [JobName.NotifyBatch]: { items: NotifyBatchItem[] };
  [JobName.RollUp]: { taskId: string };
  [JobName.FireTimer]: { timerRowId: string; taskId: string; dueAt: string };
  /** The slot's start, in epoch milliseconds. */
  [JobName.WakeTimers]: { at: number };
  [JobName.DeliverWebhook]: { deliveryId: string };
  [JobName.SendSms]: { smsId: string };
}

/** One notify outbox row inside a NotifyBatch job: its payload, outbox id and correlation id. */
export type NotifyBatchItem = JobPayloads[JobName.Notify] & { outboxId: string; correlationId?: string | null };

/** Which queue each job runs on. */
export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.Heartbeat]: QueueName.Maintenance,
  [JobName.Notify]: QueueName.Effects,
  [JobName.NotifyBatch]: QueueName.Effects,
  [JobName.RollUp]: QueueName.Effects,
  [JobName.FireTimer]: QueueName.Timers,
  [JobName.WakeTimers]: QueueName.Timers,
  [JobName.DeliverWebhook]: QueueName.Outbound,
  [JobName.SendSms]: QueueName.Outbound,
};

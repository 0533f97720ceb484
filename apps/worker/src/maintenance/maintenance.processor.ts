import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { withCorrelationId } from '@gridflow/common';
import { HEARTBEAT_EVERY_MS, JOB_OPTIONS, JOB_QUEUE, JobName, QueueName, unknownJob } from '@gridflow/queue';
import { HeartbeatHandler } from './heartbeat.handler.js';

/** Consumes the maintenance queue: one handler per job name, checked at startup. */
@Processor(QueueName.Maintenance)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceProcessor.name);
  private readonly handlers: Partial<Record<JobName, (job: Job) => Promise<void>>>;

  constructor(
    heartbeat: HeartbeatHandler,
    @InjectQueue(QueueName.Maintenance) private readonly queue: Queue,
  ) {
    super();
    this.handlers = { [JobName.Heartbeat]: () => heartbeat.handle() };
  }

  async onApplicationBootstrap(): Promise<void> {
    const expected = (Object.keys(JOB_QUEUE) as JobName[]).filter((j) => JOB_QUEUE[j] === QueueName.Maintenance);
    const missing = expected.filter((j) => !this.handlers[j]);
    if (missing.length) throw new Error(`No handler for maintenance jobs: ${missing.join(', ')}`);
    await this.scheduleHeartbeat();
  }

  /**
   * Puts the heartbeat schedule in Redis (idempotent). At boot, and again when Redis has lost its data (the outbox
   * relay notices), since the schedule lives only there.
   */
  async scheduleHeartbeat(): Promise<void> {
    await this.queue.upsertJobScheduler(
      'heartbeat',
      { every: HEARTBEAT_EVERY_MS },
      { name: JobName.Heartbeat, data: { scheduledBy: 'worker' }, opts: JOB_OPTIONS[JobName.Heartbeat] },
    );
  }

  async process(job: Job): Promise<void> {
    const handler = this.handlers[job.name as JobName];
    if (!handler) throw new UnrecoverableError(unknownJob(job.name));
    await withCorrelationId(`job-${job.id ?? job.name}`, () => handler(job));
    this.logger.debug(`job ${job.name} ${job.id} done`);
  }
}

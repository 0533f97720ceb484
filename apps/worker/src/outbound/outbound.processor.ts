import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { DataSource } from 'typeorm';
import { withCorrelationId, type OutboundConfig } from '@gridflow/common';
import { SMS_SENDER, signWebhookBody, type SmsSender } from '@gridflow/domain';
import { JOB_QUEUE, JobName, QueueName } from '@gridflow/queue';

interface OutboundData {
  outboxId?: string;
  correlationId?: string | null;
  deliveryId?: string;
  smsId?: string;
}

/** The next delay of BullMQ's exponential backoff after attempt `attempt` (1-based). */
const backoffAfter = (attempt: number, baseMs: number) => baseMs * 2 ** (attempt - 1);

/**
 * Outbound channels: POSTs webhook deliveries and sends SMS. The delivery (or sms_outbox) row is the truth: a job
 * for a row already delivered does nothing, each attempt and failure is recorded on the row, and the last failed
 * attempt marks it `failed`. A terminal row records its outbox id in applied_effects (for the sweeper).
 */
@Processor(QueueName.Outbound, { concurrency: 8 })
export class OutboundProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(OutboundProcessor.name);
  private readonly timeoutMs: number;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    config: ConfigService,
  ) {
    super();
    this.timeoutMs = config.getOrThrow<OutboundConfig>('outbound').webhookTimeoutMs;
  }

  onApplicationBootstrap(): void {
    const handled = [JobName.DeliverWebhook, JobName.SendSms];
    const missing = (Object.keys(JOB_QUEUE) as JobName[]).filter(
      (j) => JOB_QUEUE[j] === QueueName.Outbound && !handled.includes(j),
    );
    if (missing.length) throw new Error(`No handler for outbound jobs: ${missing.join(', ')}`);
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.logger.warn(`outbound worker: ${err.message}`);
  }

  async process(job: Job): Promise<void> {
    const data = job.data as OutboundData;
    await withCorrelationId(data.correlationId ?? `job-${job.id}`, async () => {
      if (job.name === JobName.DeliverWebhook && data.deliveryId) return this.deliverWebhook(job, data.deliveryId);
      if (job.name === JobName.SendSms && data.smsId) return this.sendSms(job, data.smsId);
      throw new UnrecoverableError(`Unknown or malformed outbound job ${job.name} ${job.id}`);
    });
  }

  /** Whether this is the job's last try (BullMQ counts attemptsMade before the current one). */
  private isLast(job: Job): boolean {
    return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  }

  private backoffMs(job: Job): number {
    const b = job.opts.backoff;
    return typeof b === 'number' ? b : (b?.delay ?? 1000);
  }

  private async applied(outboxId: string | undefined, jobName: string): Promise<void> {
    if (!outboxId) return;
    await this.ds.query('INSERT IGNORE INTO applied_effects (outbox_id, job_name) VALUES (?, ?)', [outboxId, jobName]);
  }

  private async deliverWebhook(job: Job, deliveryId: string): Promise<void> {
    const outboxId = (job.data as OutboundData).outboxId;
    const rows = (await this.ds.query(
      `SELECT d.id, d.status, d.payload, e.url, e.secret, e.enabled
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`,
      [deliveryId],
    )) as { id: string; status: string; payload: string; url: string; secret: string; enabled: number | boolean }[];
    const d = rows[0];
    if (!d || d.status === 'delivered') return this.applied(outboxId, job.name); // gone or already delivered: nothing to do
    if (!d.enabled) {
      await this.ds.query(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint disabled', next_attempt_at = NULL WHERE id = ? AND status <> 'delivered'",
        [d.id],
      );
      return this.applied(outboxId, job.name);
    }
    // claim the attempt (a concurrent duplicate that finds the row delivered stops here)
    const claim = (await this.ds.query(
      "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = NULL WHERE id = ? AND status <> 'delivered'",
      [d.id],
    )) as { affectedRows?: number };
    if (!claim.affectedRows) return this.applied(outboxId, job.name);

    let status: number | null = null;
    let error: string;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Gridflow-Webhook/1',
          'x-gridflow-signature': signWebhookBody(d.secret, d.payload),
          'x-gridflow-delivery': d.id,
          'x-gridflow-timestamp': new Date().toISOString(),
        },
        body: d.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status >= 200 && status < 300) {
        await this.ds.query(
          "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = NOW(3), last_status_code = ?, next_attempt_at = NULL WHERE id = ?",
          [status, d.id],
        );
        return this.applied(outboxId, job.name);
      }
      error = `HTTP ${status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      error =
        err.name === 'TimeoutError'
          ? `timeout after ${this.timeoutMs} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
    }
    const last = this.isLast(job);
    const next = last ? null : new Date(Date.now() + backoffAfter(job.attemptsMade + 1, this.backoffMs(job)));
    await this.ds.query(
      'UPDATE webhook_deliveries SET status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ? WHERE id = ? AND status <> ?',
      [last ? 'failed' : 'pending', status, error.slice(0, 2000), next, d.id, 'delivered'],
    );
    if (last) await this.applied(outboxId, job.name);
    this.logger.warn(
      `webhook delivery ${d.id} attempt ${job.attemptsMade + 1} failed: ${error}${last ? ' (giving up)' : ''}`,
    );
    throw new Error(`webhook delivery failed: ${error}`);
  }

  private async sendSms(job: Job, smsId: string): Promise<void> {
    const outboxId = (job.data as OutboundData).outboxId;
    const rows = (await this.ds.query('SELECT id, status, phone, text FROM sms_outbox WHERE id = ?', [smsId])) as {
      id: string;
      status: string;
      phone: string;
      text: string;
    }[];
    const s = rows[0];
    if (!s || s.status === 'sent') return this.applied(outboxId, job.name);
    await this.ds.query('UPDATE sms_outbox SET attempts = attempts + 1 WHERE id = ?', [s.id]);
    try {
      await this.sms.send(s.phone, s.text);
    } catch (e) {
      const last = this.isLast(job);
      await this.ds.query('UPDATE sms_outbox SET status = ?, last_error = ? WHERE id = ?', [
        last ? 'failed' : 'pending',
        (e as Error).message.slice(0, 2000),
        s.id,
      ]);
      if (last) await this.applied(outboxId, job.name);
      throw e;
    }
    await this.ds.query("UPDATE sms_outbox SET status = 'sent', sent_at = NOW(3), driver = ? WHERE id = ?", [
      this.sms.driver,
      s.id,
    ]);
    await this.applied(outboxId, job.name);
  }
}

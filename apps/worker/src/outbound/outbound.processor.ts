import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { DataSource } from 'typeorm';
import { withCorrelationId, type OutboundConfig } from '@gridflow/common';
import { openWebhookSecret, SMS_SENDER, signWebhookBody, WebhookTargetRefused, type SmsSender } from '@gridflow/domain';
import { JOB_QUEUE, JobName, QueueName } from '@gridflow/queue';
import { outcomeOf, postWebhook, retryAfterMs, WebhookTimeout, type Outcome } from './webhook-http.js';
import { pingDatabase, waitingOutOutages } from '../dependency-wait.js';

interface OutboundData {
  outboxId?: string;
  correlationId?: string | null;
  deliveryId?: string;
  smsId?: string;
}

interface DeliveryRow {
  id: string;
  status: string;
  payload: string;
  endpoint_id: string;
  url: string;
  secret_ciphertext: string | null;
  enabled: number | boolean;
  deleted_at: Date | null;
}

/** The next delay of BullMQ's exponential backoff after attempt `attempt` (1-based). */
const backoffAfter = (attempt: number, baseMs: number) => baseMs * 2 ** (attempt - 1);

/**
 * Outbound channels: POSTs webhook deliveries and sends SMS. The delivery (or sms_outbox) row is the truth: a job
 * for a row already delivered does nothing, each attempt and failure is recorded on the row, and the last failed
 * attempt — or the first permanent one (a 4xx other than 408/425/429, a refused target, an undecryptable secret) —
 * marks it `failed`. A terminal row records its outbox id in applied_effects (for the sweeper). Webhooks go only to
 * public addresses unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on, judged at connect time (see webhook-http.ts).
 */
@Processor(QueueName.Outbound, { concurrency: 8 })
export class OutboundProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(OutboundProcessor.name);
  private readonly outbound: OutboundConfig;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    config: ConfigService,
  ) {
    super();
    this.outbound = config.getOrThrow<OutboundConfig>('outbound');
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

  async process(job: Job, token?: string): Promise<void> {
    const data = job.data as OutboundData;
    // a receiver's failures spend attempts (they come back as outcomes); an unreachable database does not
    await waitingOutOutages(
      job,
      token,
      () =>
        withCorrelationId(data.correlationId ?? `job-${job.id}`, async () => {
          if (job.name === JobName.DeliverWebhook && data.deliveryId) return this.deliverWebhook(job, data.deliveryId);
          if (job.name === JobName.SendSms && data.smsId) return this.sendSms(job, data.smsId);
          throw new UnrecoverableError(`Unknown or malformed outbound job ${job.name} ${job.id}`);
        }),
      pingDatabase(this.ds),
    );
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
      `SELECT d.id, d.status, d.payload, e.id AS endpoint_id, e.url, e.secret_ciphertext, e.enabled, e.deleted_at
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`,
      [deliveryId],
    )) as DeliveryRow[];
    const d = rows[0];
    if (!d || d.status === 'delivered') return this.applied(outboxId, job.name); // gone or already delivered: nothing to do
    if (d.deleted_at || !d.enabled || !d.secret_ciphertext) {
      await this.ds.query(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL WHERE id = ? AND status <> 'delivered'",
        [d.deleted_at || !d.secret_ciphertext ? 'endpoint deleted' : 'endpoint disabled', d.id],
      );
      return this.applied(outboxId, job.name);
    }
    // claim the attempt (a concurrent duplicate that finds the row delivered stops here)
    const claim = (await this.ds.query(
      "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = NULL WHERE id = ? AND status <> 'delivered'",
      [d.id],
    )) as { affectedRows?: number };
    if (!claim.affectedRows) return this.applied(outboxId, job.name);

    const outcome = await this.attempt(d);
    if (outcome.kind === 'delivered') {
      await this.ds.query(
        "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = NOW(3), last_status_code = ?, next_attempt_at = NULL WHERE id = ?",
        [outcome.status, d.id],
      );
      return this.applied(outboxId, job.name);
    }
    const n = job.attemptsMade + 1;
    if (outcome.kind === 'permanent' || this.isLast(job)) {
      await this.record(d.id, 'failed', outcome, null);
      await this.applied(outboxId, job.name);
      this.logger.warn(`webhook delivery ${d.id} attempt ${n} failed: ${outcome.error} (giving up)`);
      if (outcome.kind === 'permanent') throw new UnrecoverableError(`webhook delivery refused: ${outcome.error}`);
      throw new Error(`webhook delivery failed: ${outcome.error}`);
    }
    const delay = this.retryDelay(job, outcome.retryAfterMs);
    // BullMQ computes the next delay from the job's in-memory backoff when this attempt throws: make it this one
    job.opts.backoff = { type: 'fixed', delay };
    await this.record(d.id, 'pending', outcome, new Date(Date.now() + delay));
    this.logger.warn(`webhook delivery ${d.id} attempt ${n} failed: ${outcome.error} (retry in ${delay} ms)`);
    throw new Error(`webhook delivery failed: ${outcome.error}`);
  }

  /** One POST of the delivery's exact body, signed with the endpoint's secret, and what its answer means. */
  private async attempt(d: DeliveryRow): Promise<Outcome> {
    let secret: string;
    try {
      secret = openWebhookSecret(this.outbound.webhookSecretKey, d.endpoint_id, d.secret_ciphertext ?? '');
    } catch {
      return {
        kind: 'permanent',
        status: null,
        error: 'the endpoint secret cannot be decrypted (WEBHOOK_SECRET_KEY changed?); set the secret again',
      };
    }
    try {
      const answer = await postWebhook({
        url: d.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Gridflow-Webhook/1',
          'x-gridflow-signature': signWebhookBody(secret, d.payload),
          'x-gridflow-delivery': d.id,
          'x-gridflow-timestamp': new Date().toISOString(),
        },
        body: d.payload,
        timeoutMs: this.outbound.webhookTimeoutMs,
        allowPrivate: this.outbound.webhookAllowPrivateNetworks,
      });
      return outcomeOf(answer.status, retryAfterMs(answer.retryAfter));
    } catch (e) {
      if (e instanceof WebhookTargetRefused)
        return { kind: 'permanent', status: null, error: `target refused: ${e.reason}` };
      const err = e as Error & { code?: string };
      const error = e instanceof WebhookTimeout ? err.message : (err.code ?? err.message);
      return { kind: 'retry', status: null, error, retryAfterMs: null };
    }
  }

  /** The exponential backoff of this job, or the receiver's Retry-After when it asks for longer (capped). */
  private retryDelay(job: Job, retryAfter: number | null): number {
    const backoff = backoffAfter(job.attemptsMade + 1, this.backoffMs(job));
    if (retryAfter === null) return backoff;
    return Math.max(backoff, Math.min(retryAfter, this.outbound.webhookRetryAfterMaxMs));
  }

  private async record(
    id: string,
    status: 'pending' | 'failed',
    outcome: Exclude<Outcome, { kind: 'delivered' }>,
    next: Date | null,
  ): Promise<void> {
    await this.ds.query(
      'UPDATE webhook_deliveries SET status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ? WHERE id = ? AND status <> ?',
      [status, outcome.status, outcome.error.slice(0, 2000), next, id, 'delivered'],
    );
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
      // the gateway's failure spends an attempt: its socket error codes must not read as the database being away
      throw new Error(`sms send failed: ${(e as Error).message}`, { cause: e });
    }
    await this.ds.query("UPDATE sms_outbox SET status = 'sent', sent_at = NOW(3), driver = ? WHERE id = ?", [
      this.sms.driver,
      s.id,
    ]);
    await this.applied(outboxId, job.name);
  }
}

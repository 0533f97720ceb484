import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import {
  DomainError,
  ErrorCode,
  newId,
  NotFoundError,
  registerErrorStatuses,
  type OutboundConfig,
  type Principal,
} from '@gridflow/common';
import { WebhookDeliveryEntity, WebhookEndpointEntity, type WebhookDeliveryStatus } from '@gridflow/persistence';
import { JobName } from '@gridflow/queue';
import { OutboxWriter } from '../outbox/outbox.writer.js';
import { sealWebhookSecret } from './webhook-secrets.js';
import { assertPublicHost, WebhookTargetRefused } from './webhook-target.js';

export * from './webhook-secrets.js';
export * from './webhook-target.js';

/** Error codes of webhook administration. */
export const WebhookErrorCode = {
  /** The URL's scheme is not http(s), or its host is or resolves to a loopback/private/link-local/... address. */
  WEBHOOK_URL_FORBIDDEN: 'WEBHOOK_URL_FORBIDDEN',
  /** Resend of a delivery the receiver already accepted. */
  WEBHOOK_DELIVERY_ALREADY_DELIVERED: 'WEBHOOK_DELIVERY_ALREADY_DELIVERED',
  /** Resend of a delivery that is still being tried (or is being re-queued right now). */
  WEBHOOK_DELIVERY_IN_PROGRESS: 'WEBHOOK_DELIVERY_IN_PROGRESS',
  /** Resend of a delivery whose endpoint is disabled or deleted: it would fail again at once. */
  WEBHOOK_ENDPOINT_INACTIVE: 'WEBHOOK_ENDPOINT_INACTIVE',
} as const;

registerErrorStatuses({
  WEBHOOK_URL_FORBIDDEN: 422,
  WEBHOOK_DELIVERY_ALREADY_DELIVERED: 409,
  WEBHOOK_DELIVERY_IN_PROGRESS: 409,
  WEBHOOK_ENDPOINT_INACTIVE: 409,
});

export interface WebhookEndpointInput {
  url: string;
  secret: string;
  events: string[];
  enabled?: boolean;
}

/** The `url` column's length. */
export const MAX_URL_LENGTH = 2000;

const urlError = (code: string, problem: string) =>
  new DomainError(code, `url ${problem}`, [{ field: 'url', errors: [problem] }]);

/**
 * Endpoint URLs: absolute http(s) (else WEBHOOK_URL_FORBIDDEN), no credentials in them (the secret signs; it never
 * travels in the URL).
 */
export function checkWebhookUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw urlError(ErrorCode.VALIDATION_FAILED, 'is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw urlError(WebhookErrorCode.WEBHOOK_URL_FORBIDDEN, 'must use http or https');
  if (u.username || u.password) throw urlError(ErrorCode.VALIDATION_FAILED, 'must not carry credentials');
  const normalised = u.toString();
  // what is stored is the normalised form (percent-encoded), which can be longer than what was sent
  if (normalised.length > MAX_URL_LENGTH)
    throw urlError(ErrorCode.VALIDATION_FAILED, `must be at most ${MAX_URL_LENGTH} characters once percent-encoded`);
  return normalised;
}

/**
 * Re-queues nothing itself: removes the delivery's finished job (failed, or completed without success) from the
 * outbound queue so the job the outbox relay publishes next, under the same deterministic id, is not taken for a
 * duplicate. Throws WEBHOOK_DELIVERY_IN_PROGRESS when the job is still running.
 */
export type ReleaseDeliveryJob = (deliveryId: string) => Promise<void>;

/**
 * Administration of webhook endpoints and the view of their deliveries. Secrets are written (encrypted), never read
 * back. Endpoints are district-wide (every notification whose template they list): only holders of `webhook:admin`
 * manage them, and a deleted or unknown endpoint is a 404.
 */
@Injectable()
export class WebhookAdminService {
  private readonly outbound: OutboundConfig;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: OutboxWriter,
    config: ConfigService,
  ) {
    this.outbound = config.getOrThrow<OutboundConfig>('outbound');
  }

  async create(principal: Principal, input: WebhookEndpointInput): Promise<WebhookEndpointEntity> {
    const repo = this.ds.getRepository(WebhookEndpointEntity);
    const id = newId();
    await repo.insert({
      id,
      url: await this.checkTarget(input.url),
      secretCiphertext: sealWebhookSecret(this.outbound.webhookSecretKey, id, input.secret),
      events: [...new Set(input.events)],
      enabled: input.enabled ?? true,
      createdBy: principal.userId,
    });
    return repo.findOneByOrFail({ id });
  }

  /** Endpoints that are not deleted. */
  list(): Promise<WebhookEndpointEntity[]> {
    return this.ds.getRepository(WebhookEndpointEntity).find({ order: { id: 'ASC' } });
  }

  async get(id: string): Promise<WebhookEndpointEntity> {
    const e = await this.ds.getRepository(WebhookEndpointEntity).findOneBy({ id });
    if (!e) throw new NotFoundError('Webhook');
    return e;
  }

  async update(id: string, patch: Partial<WebhookEndpointInput>): Promise<WebhookEndpointEntity> {
    await this.get(id);
    const set: Partial<WebhookEndpointEntity> = {};
    if (patch.url !== undefined) set.url = await this.checkTarget(patch.url);
    if (patch.secret !== undefined)
      set.secretCiphertext = sealWebhookSecret(this.outbound.webhookSecretKey, id, patch.secret);
    if (patch.events !== undefined) set.events = [...new Set(patch.events)];
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (Object.keys(set).length)
      await this.ds.getRepository(WebhookEndpointEntity).update({ id, deletedAt: IsNull() }, set);
    return this.get(id);
  }

  /**
   * Deletes an endpoint: it is disabled, its secret wiped and it is marked deleted (kept, so its deliveries stay
   * readable). Deliveries still waiting for a retry fail with `endpoint deleted`; none are created any more.
   */
  async remove(id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const res = (await em.query(
        'UPDATE webhook_endpoints SET enabled = 0, secret_ciphertext = NULL, deleted_at = NOW(3) WHERE id = ? AND deleted_at IS NULL',
        [id],
      )) as { affectedRows?: number };
      if (!res.affectedRows) throw new NotFoundError('Webhook');
      await em.query(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted', next_attempt_at = NULL WHERE endpoint_id = ? AND status = 'pending'",
        [id],
      );
    });
  }

  /** Deliveries, newest first, optionally by status and endpoint (deleted endpoints included); keyset-paged by id. */
  async deliveries(q: {
    status?: WebhookDeliveryStatus;
    endpointId?: string;
    limit: number;
    afterId?: string;
  }): Promise<WebhookDeliveryEntity[]> {
    const qb = this.ds
      .getRepository(WebhookDeliveryEntity)
      .createQueryBuilder('d')
      .orderBy('d.id', 'DESC')
      .limit(q.limit + 1);
    if (q.status) qb.andWhere('d.status = :status', { status: q.status });
    if (q.endpointId) qb.andWhere('d.endpoint_id = :endpoint', { endpoint: q.endpointId });
    if (q.afterId) qb.andWhere('d.id < :after', { after: q.afterId });
    return qb.getMany();
  }

  async delivery(id: string): Promise<WebhookDeliveryEntity> {
    const d = await this.ds.getRepository(WebhookDeliveryEntity).findOneBy({ id });
    if (!d) throw new NotFoundError('Webhook delivery');
    return d;
  }

  /**
   * Re-queues a failed delivery through the outbox and the outbound queue, as the same delivery: the same row, the
   * same body byte for byte (its `deliveryId` and notification id unchanged) and the same X-Gridflow-Delivery
   * header, so a receiver that already saw it can deduplicate. It gets a fresh round of tries; `attempts` keeps
   * counting every POST and `resends` counts the resends. A delivered delivery is refused
   * (WEBHOOK_DELIVERY_ALREADY_DELIVERED), as is one still being tried or whose endpoint is disabled or deleted.
   */
  async resend(principal: Principal, id: string, release: ReleaseDeliveryJob): Promise<WebhookDeliveryEntity> {
    await this.ds.transaction(async (em) => {
      const rows = (await em.query(
        `SELECT d.id, d.status, e.enabled, e.deleted_at FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ? FOR UPDATE`,
        [id],
      )) as { id: string; status: WebhookDeliveryStatus; enabled: number | boolean; deleted_at: Date | null }[];
      const d = rows[0];
      if (!d) throw new NotFoundError('Webhook delivery');
      if (d.status === 'delivered')
        throw new DomainError(
          WebhookErrorCode.WEBHOOK_DELIVERY_ALREADY_DELIVERED,
          'This delivery was accepted by the receiver; it is not sent again',
        );
      if (d.status !== 'failed')
        throw new DomainError(
          WebhookErrorCode.WEBHOOK_DELIVERY_IN_PROGRESS,
          'This delivery is still being tried; resend it once it has failed',
        );
      if (d.deleted_at || !d.enabled)
        throw new DomainError(
          WebhookErrorCode.WEBHOOK_ENDPOINT_INACTIVE,
          `The endpoint of this delivery is ${d.deleted_at ? 'deleted' : 'disabled'}; enable it before resending`,
        );
      await em.query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = NOW(3), resends = resends + 1, resent_at = NOW(3), resent_by = ? WHERE id = ?",
        [principal.userId, id],
      );
      await this.outbox.add(em, [{ jobName: JobName.DeliverWebhook, aggregateId: id, payload: { deliveryId: id } }]);
      // before commit: the relay only sees the outbox row once the old job is out of the way
      await release(id);
    });
    return this.delivery(id);
  }

  /** checkWebhookUrl, then (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS) the host must not be or resolve to a private address. */
  private async checkTarget(raw: string): Promise<string> {
    const url = checkWebhookUrl(raw);
    if (this.outbound.webhookAllowPrivateNetworks) return url;
    try {
      await assertPublicHost(new URL(url).hostname);
    } catch (e) {
      if (e instanceof WebhookTargetRefused)
        throw urlError(WebhookErrorCode.WEBHOOK_URL_FORBIDDEN, `must not point to a private network: ${e.reason}`);
      throw e;
    }
    return url;
  }
}

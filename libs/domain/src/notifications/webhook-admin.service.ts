import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, newId, NotFoundError, type Principal } from '@gridflow/common';
import { WebhookDeliveryEntity, WebhookEndpointEntity, type WebhookDeliveryStatus } from '@gridflow/persistence';

export interface WebhookEndpointInput {
  url: string;
  secret: string;
  events: string[];
  enabled?: boolean;
}

/** Endpoint URLs: absolute http(s), no credentials in them (the secret signs; it never travels in the URL). */
export function checkWebhookUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'url is not a valid URL', [
      { field: 'url', errors: ['not a valid URL'] },
    ]);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'url must use http or https', [
      { field: 'url', errors: ['must use http or https'] },
    ]);
  if (u.username || u.password)
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'url must not carry credentials', [
      { field: 'url', errors: ['must not carry credentials'] },
    ]);
  return u.toString();
}

/** Administration of webhook endpoints and the view of their deliveries. Secrets are written, never read back. */
@Injectable()
export class WebhookAdminService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async create(principal: Principal, input: WebhookEndpointInput): Promise<WebhookEndpointEntity> {
    const repo = this.ds.getRepository(WebhookEndpointEntity);
    const id = newId();
    await repo.insert({
      id,
      url: checkWebhookUrl(input.url),
      secret: input.secret,
      events: [...new Set(input.events)],
      enabled: input.enabled ?? true,
      createdBy: principal.userId,
    });
    return repo.findOneByOrFail({ id });
  }

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
    if (patch.url !== undefined) set.url = checkWebhookUrl(patch.url);
    if (patch.secret !== undefined) set.secret = patch.secret;
    if (patch.events !== undefined) set.events = [...new Set(patch.events)];
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (Object.keys(set).length) await this.ds.getRepository(WebhookEndpointEntity).update({ id }, set);
    return this.get(id);
  }

  /** Deliveries, newest first, optionally by status and endpoint; keyset-paged by id. */
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
}

import { InjectQueue } from '@nestjs/bullmq';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { Queue } from 'bullmq';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { Auth, Authenticated, DomainError, Permission, type Principal } from '@gridflow/common';
import { TaskDomainModule, WebhookAdminService, WebhookErrorCode } from '@gridflow/domain';
import { QueueName, QueueProducerModule, webhookJobId } from '@gridflow/queue';
import type { WebhookDeliveryEntity, WebhookDeliveryStatus, WebhookEndpointEntity } from '@gridflow/persistence';
import { Optional } from '../common/optional.js';
import { decodeCursor, encodeCursor, PageQuery } from '../common/pagination.js';

/** A notification template name (e.g. `task.urged`) or `*` for every notification. */
const EVENT = /^(\*|[a-z][a-z0-9_.-]{0,63})$/;
/** `events` is stored comma-separated in a VARCHAR(2000): 30 names of up to 64 characters fit. */
const MAX_EVENTS = 30;

class CreateWebhookDto {
  @ApiProperty({
    example: 'https://hooks.example.gov.cn/gridflow',
    description:
      'http(s) URL the notifications are POSTed to; a host that is or resolves to a loopback, private, link-local or ' +
      'unspecified address is refused (422 WEBHOOK_URL_FORBIDDEN) unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on',
  })
  @IsString()
  @MaxLength(2000)
  url: string;

  @ApiProperty({
    minLength: 16,
    writeOnly: true,
    description: 'HMAC-SHA256 key of X-Gridflow-Signature; stored encrypted, never returned',
  })
  @IsString()
  @MinLength(16)
  @MaxLength(255)
  secret: string;

  @ApiProperty({ example: ['task.urged', 'task.overdue'], description: 'Notification templates, or `*` for all' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENTS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(EVENT, { each: true, message: 'each event must be a template name or *' })
  events: string[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

class UpdateWebhookDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @MaxLength(2000)
  url?: string;

  @ApiPropertyOptional({ minLength: 16, writeOnly: true })
  @Optional()
  @IsString()
  @MinLength(16)
  @MaxLength(255)
  secret?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENTS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(EVENT, { each: true, message: 'each event must be a template name or *' })
  events?: string[];

  @ApiPropertyOptional()
  @Optional()
  @IsBoolean()
  enabled?: boolean;
}

const STATUSES: WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: WebhookDeliveryStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsUUID()
  endpointId?: string;
}

/** The public shape of an endpoint: everything but the secret. */
const endpointView = (e: WebhookEndpointEntity) => ({
  id: e.id,
  url: e.url,
  events: e.events,
  enabled: e.enabled,
  createdBy: e.createdBy,
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});

const deliveryView = (d: WebhookDeliveryEntity) => ({
  id: d.id,
  endpointId: d.endpointId,
  notificationId: d.notificationId,
  taskId: d.taskId,
  template: d.template,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  resends: d.resends,
  resentAt: d.resentAt ? d.resentAt.toISOString() : null,
  nextAttemptAt: d.nextAttemptAt ? d.nextAttemptAt.toISOString() : null,
  deliveredAt: d.deliveredAt ? d.deliveredAt.toISOString() : null,
  createdAt: d.createdAt.toISOString(),
  payload: JSON.parse(d.payload) as unknown,
});

const isId = (v: unknown): v is string => typeof v === 'string' && v.length === 36;

/** The outbound queue as the resend use case needs it: a delivery's finished job is removed before it is re-queued. */
@Injectable()
export class WebhookJobs {
  constructor(@InjectQueue(QueueName.Outbound) private readonly queue: Queue) {}

  /** Removes the delivery's previous job (normally failed); refuses (409) while a worker is still running it. */
  readonly release = async (deliveryId: string): Promise<void> => {
    const job = await this.queue.getJob(webhookJobId(deliveryId));
    if (!job) return;
    try {
      await job.remove(); // refused for a job a worker holds the lock of
    } catch {
      throw new DomainError(WebhookErrorCode.WEBHOOK_DELIVERY_IN_PROGRESS, 'This delivery is being tried right now');
    }
  };
}

/** Outbound webhook endpoints and their deliveries (administrators only). */
@ApiTags('webhooks')
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhookAdminService,
    private readonly jobs: WebhookJobs,
  ) {}

  @Post()
  @Authenticated({ permission: Permission.WebhookAdmin })
  async create(@Auth() principal: Principal, @Body() dto: CreateWebhookDto) {
    return endpointView(await this.webhooks.create(principal, dto));
  }

  @Get()
  @Authenticated({ permission: Permission.WebhookAdmin })
  async list() {
    return { items: (await this.webhooks.list()).map(endpointView) };
  }

  /** Deliveries, newest first; `?status=failed` lists the ones that exhausted their retries. */
  @Get('deliveries')
  @Authenticated({ permission: Permission.WebhookAdmin })
  async deliveries(@Query() q: ListDeliveriesQuery) {
    const rows = await this.webhooks.deliveries({
      status: q.status,
      endpointId: q.endpointId,
      limit: q.limit,
      afterId: decodeCursor(q.cursor, isId),
    });
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { items: page.map(deliveryView), nextCursor: more ? encodeCursor(page[page.length - 1].id) : null };
  }

  @Get('deliveries/:id')
  @Authenticated({ permission: Permission.WebhookAdmin })
  async delivery(@Param('id', ParseUUIDPipe) id: string) {
    return deliveryView(await this.webhooks.delivery(id));
  }

  /**
   * Sends a failed delivery again, as the same delivery (same body, same `deliveryId`, same X-Gridflow-Delivery),
   * with a fresh round of retries. 409 WEBHOOK_DELIVERY_ALREADY_DELIVERED for a delivered one.
   */
  @Post('deliveries/:id/resend')
  @HttpCode(202)
  @Authenticated({ permission: Permission.WebhookAdmin })
  async resend(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    return deliveryView(await this.webhooks.resend(principal, id, this.jobs.release));
  }

  @Get(':id')
  @Authenticated({ permission: Permission.WebhookAdmin })
  async get(@Param('id', ParseUUIDPipe) id: string) {
    return endpointView(await this.webhooks.get(id));
  }

  @Patch(':id')
  @Authenticated({ permission: Permission.WebhookAdmin })
  async update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateWebhookDto) {
    return endpointView(await this.webhooks.update(id, dto));
  }

  /**
   * Deletes an endpoint: nothing more is sent to it (deliveries waiting for a retry fail with `endpoint deleted`),
   * its secret is wiped, and it disappears from these routes (404), while its deliveries stay listed.
   */
  @Delete(':id')
  @HttpCode(204)
  @Authenticated({ permission: Permission.WebhookAdmin })
  async remove(@Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.webhooks.remove(id);
  }
}

@Module({
  imports: [TaskDomainModule, QueueProducerModule],
  controllers: [WebhooksController],
  providers: [WebhookJobs],
})
export class WebhooksModule {}

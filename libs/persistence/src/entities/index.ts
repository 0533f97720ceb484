import { AccountEntity, GrantEntity, LedgerEntryEntity } from './ledger.entity.js';
import { CategoryEntity, DutyEntity, PowerEntity } from './catalog.entity.js';
import { IdempotencyKeyEntity } from './idempotency-key.entity.js';
import { NotificationEntity } from './notification.entity.js';
import { SmsOutboxEntity, WebhookDeliveryEntity, WebhookEndpointEntity } from './notification-channel.entity.js';
import { SupervisionEntryEntity } from './supervision-entry.entity.js';
import { CalendarDayEntity, CalendarYearEntity } from './calendar.entity.js';
import { OrgUnitEntity } from './org-unit.entity.js';
import { AppliedEffectEntity, OutboxEntity } from './outbox.entity.js';
import { RefreshTokenEntity } from './refresh-token.entity.js';
import { TaskEventEntity } from './task-event.entity.js';
import { TaskTimerEntity } from './task-timer.entity.js';
import { TaskEntity } from './task.entity.js';
import { UserEntity } from './user.entity.js';
import { WorkerHeartbeatEntity } from './worker-heartbeat.entity.js';
import { WorkflowEntity, WorkflowVersionEntity } from './workflow.entity.js';

export * from './org-unit.entity.js';
export * from './user.entity.js';
export * from './refresh-token.entity.js';
export * from './worker-heartbeat.entity.js';
export * from './workflow.entity.js';
export * from './task.entity.js';
export * from './task-event.entity.js';
export * from './task-timer.entity.js';
export * from './outbox.entity.js';
export * from './idempotency-key.entity.js';
export * from './catalog.entity.js';
export * from './ledger.entity.js';
export * from './notification.entity.js';
export * from './notification-channel.entity.js';
export * from './supervision-entry.entity.js';
export * from './calendar.entity.js';
export * from './transformers.js';

export const ENTITIES = [
  OrgUnitEntity,
  UserEntity,
  RefreshTokenEntity,
  WorkerHeartbeatEntity,
  WorkflowEntity,
  WorkflowVersionEntity,
  TaskEntity,
  TaskEventEntity,
  TaskTimerEntity,
  OutboxEntity,
  AppliedEffectEntity,
  IdempotencyKeyEntity,
  PowerEntity,
  CategoryEntity,
  DutyEntity,
  AccountEntity,
  LedgerEntryEntity,
  GrantEntity,
  NotificationEntity,
  WebhookEndpointEntity,
  WebhookDeliveryEntity,
  SmsOutboxEntity,
  SupervisionEntryEntity,
  CalendarYearEntity,
  CalendarDayEntity,
];

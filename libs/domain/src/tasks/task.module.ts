import { Module } from '@nestjs/common';
import { GrantsService } from '../grants/grants.service.js';
import { LedgerDomainModule } from '../ledger/ledger.module.js';
import { OutboxWriter } from '../outbox/outbox.writer.js';
import { WorkflowDomainModule } from '../workflows/workflow.module.js';
import { CreateTaskUseCase } from './create-task.usecase.js';
import { ExpenseUseCase } from './expense.usecase.js';
import { HandoffUseCase } from './handoff.usecase.js';
import { CatalogDomainModule } from '../catalog/catalog.module.js';
import { CalendarModule } from '../calendar/calendar.module.js';
import { TaskEffects } from './task-effects.service.js';
import { TaskReader } from './task-reader.service.js';
import { TaskShell } from './task-shell.service.js';
import { RollUpService } from './roll-up.service.js';
import { NotificationService } from '../notifications/notification.service.js';
import { NotificationChannels } from '../notifications/notification-channels.service.js';
import { WebhookAdminService } from '../notifications/webhook-admin.service.js';

/** The task use cases and services, shared by the API and the worker. */
const SERVICES = [
  TaskShell,
  TaskEffects,
  TaskReader,
  CreateTaskUseCase,
  HandoffUseCase,
  ExpenseUseCase,
  OutboxWriter,
  GrantsService,
  RollUpService,
  NotificationService,
  NotificationChannels,
  WebhookAdminService,
];

@Module({
  imports: [WorkflowDomainModule, LedgerDomainModule, CatalogDomainModule, CalendarModule],
  providers: SERVICES,
  exports: [...SERVICES, WorkflowDomainModule, LedgerDomainModule, CalendarModule],
})
export class TaskDomainModule {}

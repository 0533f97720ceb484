import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import {
  AllExceptionsFilter,
  correlationMiddleware,
  createValidationPipe,
  GridflowConfigModule,
  GridflowLoggerModule,
} from '@gridflow/common';
import { DatabaseModule } from '@gridflow/persistence';
import { QueueProducerModule, RedisModule } from '@gridflow/queue';
import { AuthModule } from './auth/auth.module.js';
import { JwtAuthGuard, PermissionGuard } from './auth/guards.js';
import { HealthModule } from './health/health.module.js';
import { OrgUnitsModule } from './org-units/org-units.module.js';
import { UsersModule } from './users/users.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { BudgetsModule } from './budgets/budgets.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { WorkflowsModule } from './workflows/workflows.module.js';
import { NotificationsModule } from './notifications/notifications.controller.js';
import { WebhooksModule } from './webhooks/webhooks.controller.js';
import { CalendarApiModule } from './calendar/calendar.controller.js';
import { SupervisionApiModule } from './supervision/supervision.controller.js';

/**
 * The HTTP API. Global guards, pipe and filter are APP_* providers, so a test module built from AppModule
 * is the production app.
 */
@Module({
  imports: [
    GridflowConfigModule.forRoot(),
    GridflowLoggerModule,
    DatabaseModule,
    RedisModule,
    QueueProducerModule,
    HealthModule,
    AuthModule,
    OrgUnitsModule,
    UsersModule,
    CatalogModule,
    BudgetsModule,
    WorkflowsModule,
    TasksModule,
    NotificationsModule,
    WebhooksModule,
    CalendarApiModule,
    SupervisionApiModule,
  ],
  providers: [
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: PermissionGuard },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(correlationMiddleware).forRoutes('*path');
  }
}

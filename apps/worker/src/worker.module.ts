import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GridflowConfigModule, GridflowLoggerModule, type OutboundConfig } from '@gridflow/common';
import { createSmsSender, SMS_SENDER, TaskDomainModule, TimersDomainModule } from '@gridflow/domain';
import { DatabaseModule } from '@gridflow/persistence';
import { bullRoot, QueueName, RedisModule } from '@gridflow/queue';
import { EffectsProcessor } from './effects/effects.processor.js';
import { HeartbeatHandler } from './maintenance/heartbeat.handler.js';
import { MaintenanceProcessor } from './maintenance/maintenance.processor.js';
import { OutboxRelay } from './outbox/outbox-relay.service.js';
import { OutboundProcessor } from './outbound/outbound.processor.js';
import { TimerSweeper } from './timers/timer-sweeper.service.js';
import { TimersProcessor } from './timers/timers.processor.js';

/** The worker: relays the outbox and consumes queues, never serves HTTP. Any number can run side by side. */
@Module({
  imports: [
    GridflowConfigModule.forRoot(),
    GridflowLoggerModule,
    DatabaseModule,
    RedisModule,
    bullRoot('worker'),
    BullModule.registerQueue(
      { name: QueueName.Maintenance },
      { name: QueueName.Effects },
      { name: QueueName.Timers },
      { name: QueueName.Outbound },
    ),
    TaskDomainModule,
    TimersDomainModule,
  ],
  providers: [
    HeartbeatHandler,
    MaintenanceProcessor,
    OutboxRelay,
    EffectsProcessor,
    TimersProcessor,
    TimerSweeper,
    OutboundProcessor,
    {
      provide: SMS_SENDER,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => createSmsSender(config.getOrThrow<OutboundConfig>('outbound').smsDriver),
    },
  ],
})
export class WorkerModule {}

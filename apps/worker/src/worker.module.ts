import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { GridflowConfigModule, GridflowLoggerModule } from '@gridflow/common';
import { DatabaseModule } from '@gridflow/persistence';
import { bullRoot, QueueName, RedisModule } from '@gridflow/queue';
import { HeartbeatHandler } from './maintenance/heartbeat.handler.js';
import { MaintenanceProcessor } from './maintenance/maintenance.processor.js';

/** The worker: consumes queues, never serves HTTP. Any number can run side by side. */
@Module({
  imports: [
    GridflowConfigModule.forRoot(),
    GridflowLoggerModule,
    DatabaseModule,
    RedisModule,
    bullRoot('worker'),
    BullModule.registerQueue({ name: QueueName.Maintenance }),
  ],
  providers: [HeartbeatHandler, MaintenanceProcessor],
})
export class WorkerModule {}

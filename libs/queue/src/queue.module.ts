import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RedisConfig } from '@gridflow/common';
import { QueueName } from './queues.js';
import type { ConnectionOptions } from 'bullmq';
import { redisOptions } from './redis.js';

/** BullMQ over the configured Redis, every key under REDIS_PREFIX, so test runs never see each other's jobs. */
export function bullRoot(role: 'producer' | 'worker') {
  return BullModule.forRootAsync({
    inject: [ConfigService],
    useFactory: (config: ConfigService) => {
      const r = config.getOrThrow<RedisConfig>('redis');
      return { connection: redisOptions(r.url, role) as ConnectionOptions, prefix: `${r.prefix}-bull` };
    },
  });
}

@Module({
  imports: [bullRoot('producer'), BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name })))],
  exports: [BullModule],
})
export class QueueProducerModule {}

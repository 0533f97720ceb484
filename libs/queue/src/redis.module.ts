import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '@gridflow/common';
import { createRedis } from './redis.js';

export const REDIS = Symbol('REDIS');

/** A shared producer-side Redis client (rate limits, health). Key names are prefixed with REDIS_PREFIX. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const r = config.getOrThrow<RedisConfig>('redis');
        const client = createRedis(r.url, 'producer');
        client.options.keyPrefix = `${r.prefix}:`;
        client.on('error', () => undefined); // surfaced through commands and /health, not as crashes
        return client;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }
}

import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { Public } from '@gridflow/common';
import { REDIS } from '@gridflow/queue';

/** States of the Redis client in which it has no connection (it is retrying, or gave up). */
const LOST = ['reconnecting', 'close', 'end'];

/** Terminus-style health: 200 when MariaDB and Redis answer, 503 with the failing part otherwise. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 1500 }),
      async () => {
        const session = this.indicators.check('redis');
        // while the connection is lost a command would only wait in the offline queue: answer at once
        if (LOST.includes(this.redis.status)) return session.down({ message: `connection ${this.redis.status}` });
        try {
          const pong = await Promise.race([
            this.redis.ping(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1500)),
          ]);
          return pong === 'PONG' ? session.up() : session.down({ message: `unexpected reply ${pong}` });
        } catch (e) {
          return session.down({ message: (e as Error).message });
        }
      },
    ]);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { AuthConfig, DomainError, ErrorCode } from '@gridflow/common';
import { REDIS } from '@gridflow/queue';

/**
 * Counts failed logins per (client address, username) in a fixed Redis window shared by every API instance.
 * Past the limit, every attempt — even with the right password — is refused with 429 until the window ends.
 */
@Injectable()
export class LoginRateLimiter {
  private readonly max: number;
  private readonly windowSeconds: number;

  constructor(@Inject(REDIS) private readonly redis: Redis, config: ConfigService) {
    const auth = config.getOrThrow<AuthConfig>('auth');
    this.max = auth.loginMaxFailures;
    this.windowSeconds = auth.loginWindowSeconds;
  }

  private key(ip: string, username: string): string {
    return `login-failures:${ip}:${username.toLowerCase()}`;
  }

  async assertAllowed(ip: string, username: string): Promise<void> {
    const count = Number((await this.redis.get(this.key(ip, username))) ?? 0);
    if (count >= this.max) {
      const ttl = await this.redis.ttl(this.key(ip, username));
      throw new DomainError(ErrorCode.RATE_LIMITED, 'Too many failed login attempts; try again later', {
        retryAfterSeconds: Math.max(ttl, 1),
      });
    }
  }

  async recordFailure(ip: string, username: string): Promise<void> {
    const key = this.key(ip, username);
    const [[, count]] = (await this.redis.multi().incr(key).expire(key, this.windowSeconds, 'NX').exec()) as [[null, number]];
    void count;
  }

  async reset(ip: string, username: string): Promise<void> {
    await this.redis.del(this.key(ip, username));
  }
}

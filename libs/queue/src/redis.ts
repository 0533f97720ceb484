import { Redis, type RedisOptions } from 'ioredis';

/**
 * Producers fail fast (a request must not hang on a dead Redis: each command times out after 2 s); workers wait forever for Redis to return
 * (`maxRetriesPerRequest: null`, as BullMQ requires for blocking connections).
 */
export function redisOptions(url: string, role: 'producer' | 'worker'): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    // producers queue commands only while (re)connecting, and give up after commandTimeout
    enableOfflineQueue: true,
    commandTimeout: role === 'worker' ? undefined : 2000,
    connectTimeout: 3000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}

export function createRedis(url: string, role: 'producer' | 'worker'): Redis {
  return new Redis(redisOptions(url, role));
}

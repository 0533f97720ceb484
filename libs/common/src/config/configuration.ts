import { registerAs } from '@nestjs/config';
import { Env, validateEnv, webhookSecretKey } from './env.js';

/** One namespace per concern; feature code reads these through ConfigService, never process.env. */
const env = (): Env => validateEnv(process.env);

export const appConfig = registerAs('app', () => {
  const e = env();
  return { nodeEnv: e.NODE_ENV, port: e.PORT, logLevel: e.LOG_LEVEL, bodyLimit: e.BODY_LIMIT };
});

export const databaseConfig = registerAs('database', () => {
  const e = env();
  return { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE };
});

export const redisConfig = registerAs('redis', () => {
  const e = env();
  return { url: e.REDIS_URL, prefix: e.REDIS_PREFIX };
});

export const authConfig = registerAs('auth', () => {
  const e = env();
  return {
    jwtSecret: e.JWT_SECRET,
    accessTtlSeconds: e.JWT_ACCESS_TTL_SECONDS,
    refreshTtlSeconds: e.JWT_REFRESH_TTL_SECONDS,
    principalCacheMs: e.PRINCIPAL_CACHE_MS,
    loginMaxFailures: e.LOGIN_MAX_FAILURES,
    loginWindowSeconds: e.LOGIN_WINDOW_SECONDS,
    passwordLog2N: e.PASSWORD_SCRYPT_LOG2N,
  };
});

export const workerConfig = registerAs('worker', () => {
  const e = env();
  return { concurrency: e.WORKER_CONCURRENCY, outboxPollMs: e.OUTBOX_POLL_MS };
});

export const outboundConfig = registerAs('outbound', () => {
  const e = env();
  return {
    webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    webhookMaxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
    webhookBackoffMs: e.WEBHOOK_BACKOFF_MS,
    webhookRetryAfterMaxMs: e.WEBHOOK_RETRY_AFTER_MAX_MS,
    webhookAllowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    webhookSecretKey: webhookSecretKey(e),
    smsDriver: e.SMS_DRIVER,
  };
});

export const demoConfig = registerAs('demo', () => ({ password: env().DEMO_PASSWORD }));

export const allConfigs = [
  appConfig,
  databaseConfig,
  redisConfig,
  authConfig,
  workerConfig,
  outboundConfig,
  demoConfig,
];

export type AppConfig = ReturnType<typeof appConfig>;
export type DatabaseConfig = ReturnType<typeof databaseConfig>;
export type RedisConfig = ReturnType<typeof redisConfig>;
export type AuthConfig = ReturnType<typeof authConfig>;
export type WorkerConfig = ReturnType<typeof workerConfig>;
export type OutboundConfig = ReturnType<typeof outboundConfig>;
export type DemoConfig = ReturnType<typeof demoConfig>;

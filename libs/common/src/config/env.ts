import { createHash, hkdfSync } from 'node:crypto';

/**
 * Environment variables, validated once at boot. Every variable has a default that works on a developer machine
 * except JWT_SECRET, which scripts/start and scripts/test generate when absent, and WEBHOOK_SECRET_KEY, which
 * production requires (scripts/start generates it into .env).
 */
export interface Env {
  NODE_ENV: 'development' | 'test' | 'production';
  PORT: number;
  /** API processes sharing the port (node:cluster); 1 runs the API in the process started. */
  API_WORKERS: number;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  BODY_LIMIT: string;
  DATABASE_URL: string;
  DATABASE_POOL_SIZE: number;
  REDIS_URL: string;
  REDIS_PREFIX: string;
  JWT_SECRET: string;
  JWT_ACCESS_TTL_SECONDS: number;
  JWT_REFRESH_TTL_SECONDS: number;
  PRINCIPAL_CACHE_MS: number;
  LOGIN_MAX_FAILURES: number;
  LOGIN_WINDOW_SECONDS: number;
  DEMO_PASSWORD: string;
  PASSWORD_SCRYPT_LOG2N: number;
  WORKER_CONCURRENCY: number;
  OUTBOX_POLL_MS: number;
  WEBHOOK_TIMEOUT_MS: number;
  WEBHOOK_MAX_ATTEMPTS: number;
  WEBHOOK_BACKOFF_MS: number;
  WEBHOOK_RETRY_AFTER_MAX_MS: number;
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: boolean;
  /** 32-byte AES-256-GCM key (base64, base64url or hex) for webhook signing secrets at rest; '' when unset. */
  WEBHOOK_SECRET_KEY: string;
  SMS_DRIVER: 'log';
}

export const DEFAULT_DEMO_PASSWORD = 'Gridflow@2026';

type Parser<T> = (raw: string | undefined) => T;

class EnvError extends Error {}

const str =
  (fallback?: string, check?: (v: string) => string | null): Parser<string> =>
  (raw) => {
    const v = raw === undefined || raw === '' ? fallback : raw;
    if (v === undefined) throw new EnvError('is required');
    const problem = check?.(v);
    if (problem) throw new EnvError(problem);
    return v;
  };

const int =
  (fallback: number, min: number, max: number): Parser<number> =>
  (raw) => {
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) throw new EnvError(`must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new EnvError(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

const oneOf =
  <T extends string>(fallback: T, values: readonly T[]): Parser<T> =>
  (raw) => {
    const v = (raw === undefined || raw === '' ? fallback : raw) as T;
    if (!values.includes(v)) throw new EnvError(`must be one of ${values.join(', ')}, got "${v}"`);
    return v;
  };

const bool =
  (fallback: boolean): Parser<boolean> =>
  (raw) => {
    if (raw === undefined || raw === '') return fallback;
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    throw new EnvError(`must be true or false, got "${raw}"`);
  };

/** The bytes of a 32-byte key written as 64 hex digits or as base64 / base64url; null when it is not one. */
function decodeKey(v: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(v)) return null;
  const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 32 ? bytes : null;
}

const aesKey = (v: string) =>
  v === '' || decodeKey(v) ? null : 'must be 32 random bytes as base64, base64url or 64 hex digits';

const url = (protocols: string[]) => (v: string) => {
  try {
    const u = new URL(v);
    return protocols.includes(u.protocol) ? null : `must use ${protocols.join(' or ')}, got "${u.protocol}"`;
  } catch {
    return 'is not a valid URL';
  }
};

const schema: { [K in keyof Env]: Parser<Env[K]> } = {
  NODE_ENV: oneOf('development', ['development', 'test', 'production'] as const),
  PORT: int(3000, 1, 65535),
  API_WORKERS: int(1, 1, 64),
  LOG_LEVEL: oneOf('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  BODY_LIMIT: str('1mb', (v) => (/^\d+(b|kb|mb)$/i.test(v) ? null : 'must look like 256kb or 1mb')),
  DATABASE_URL: str('mariadb://root@127.0.0.1:3306/gridflow', url(['mysql:', 'mariadb:'])),
  DATABASE_POOL_SIZE: int(10, 1, 500),
  REDIS_URL: str('redis://127.0.0.1:6379', url(['redis:', 'rediss:'])),
  REDIS_PREFIX: str('gridflow', (v) => (/^[A-Za-z0-9_-]+$/.test(v) ? null : 'may hold letters, digits, _ and - only')),
  JWT_SECRET: str(undefined, (v) => (v.length >= 32 ? null : 'must be at least 32 characters')),
  JWT_ACCESS_TTL_SECONDS: int(900, 30, 86400),
  JWT_REFRESH_TTL_SECONDS: int(14 * 86400, 300, 365 * 86400),
  PRINCIPAL_CACHE_MS: int(1000, 0, 10_000),
  LOGIN_MAX_FAILURES: int(10, 1, 10000),
  LOGIN_WINDOW_SECONDS: int(300, 1, 86400),
  PASSWORD_SCRYPT_LOG2N: int(17, 10, 20),
  DEMO_PASSWORD: str(DEFAULT_DEMO_PASSWORD, (v) => (v.length >= 8 ? null : 'must be at least 8 characters')),
  WORKER_CONCURRENCY: int(8, 1, 256),
  OUTBOX_POLL_MS: int(200, 10, 60000),
  WEBHOOK_TIMEOUT_MS: int(5000, 100, 60000),
  WEBHOOK_MAX_ATTEMPTS: int(8, 1, 50),
  WEBHOOK_BACKOFF_MS: int(1000, 10, 3_600_000),
  WEBHOOK_RETRY_AFTER_MAX_MS: int(600_000, 100, 86_400_000),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool(false),
  WEBHOOK_SECRET_KEY: str('', aesKey),
  SMS_DRIVER: oneOf('log', ['log'] as const),
};

/** One variable, parsed and checked as `validateEnv` does, for a process that needs only that one. */
export function envValue<K extends keyof Env>(key: K, raw: string | undefined): Env[K] {
  try {
    return schema[key](raw);
  } catch (e) {
    if (!(e instanceof EnvError)) throw e;
    throw new Error(`Invalid configuration: ${key} ${e.message}. See .env.example.`, { cause: e });
  }
}

/** Parses and validates the environment; throws one error naming every bad variable. */
export function validateEnv(raw: Record<string, string | undefined>): Env {
  const out: Partial<Record<keyof Env, unknown>> = {};
  const problems: string[] = [];
  for (const key of Object.keys(schema) as (keyof Env)[]) {
    try {
      out[key] = schema[key](raw[key]);
    } catch (e) {
      if (!(e instanceof EnvError)) throw e;
      problems.push(`${key} ${e.message}`);
    }
  }
  if (out.NODE_ENV === 'production' && out.WEBHOOK_SECRET_KEY === '') {
    problems.push('WEBHOOK_SECRET_KEY is required in production');
  }
  if (problems.length) {
    throw new Error(`Invalid configuration: ${problems.join('; ')}. See .env.example.`);
  }
  return out as Env;
}

/**
 * The AES-256-GCM key that encrypts webhook signing secrets at rest: WEBHOOK_SECRET_KEY, or — outside production,
 * when it is unset — a key derived from JWT_SECRET (HKDF-SHA256), so a development checkout works without one.
 */
export function webhookSecretKey(env: Pick<Env, 'WEBHOOK_SECRET_KEY' | 'JWT_SECRET'>): Buffer {
  const explicit = env.WEBHOOK_SECRET_KEY ? decodeKey(env.WEBHOOK_SECRET_KEY) : null;
  if (explicit) return explicit;
  const salt = createHash('sha256').update('gridflow/webhook-secret-key').digest();
  return Buffer.from(hkdfSync('sha256', env.JWT_SECRET, salt, 'webhook signing secrets at rest', 32));
}

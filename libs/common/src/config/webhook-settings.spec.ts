import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { validateEnv, webhookSecretKey } from './env.js';

describe('webhook settings', () => {
  const base = { JWT_SECRET: 'j'.repeat(40) };
  const key = randomBytes(32);

  it('default to refusing private networks, with a 10-minute Retry-After cap', () => {
    const env = validateEnv(base);
    expect(env.WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(false);
    expect(env.WEBHOOK_RETRY_AFTER_MAX_MS).toBe(600_000);
    expect(validateEnv({ ...base, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }).WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(true);
    expect(() => validateEnv({ ...base, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'maybe' })).toThrow(
      /WEBHOOK_ALLOW_PRIVATE_NETWORKS must be true or false/,
    );
  });

  it('take the secret key as base64, base64url or hex, and refuse anything but 32 bytes', () => {
    for (const written of [key.toString('base64'), key.toString('base64url'), key.toString('hex')])
      expect(webhookSecretKey(validateEnv({ ...base, WEBHOOK_SECRET_KEY: written }))).toEqual(key);
    expect(() => validateEnv({ ...base, WEBHOOK_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(
      /WEBHOOK_SECRET_KEY must be 32 random bytes/,
    );
    expect(() => validateEnv({ ...base, WEBHOOK_SECRET_KEY: 'not a key' })).toThrow(/WEBHOOK_SECRET_KEY/);
  });

  it('require the secret key in production; elsewhere derive a stable one from JWT_SECRET', () => {
    expect(() => validateEnv({ ...base, NODE_ENV: 'production' })).toThrow(
      /WEBHOOK_SECRET_KEY is required in production/,
    );
    expect(() =>
      validateEnv({ ...base, NODE_ENV: 'production', WEBHOOK_SECRET_KEY: key.toString('base64url') }),
    ).not.toThrow();
    const derived = webhookSecretKey(validateEnv(base));
    expect(derived).toHaveLength(32);
    expect(webhookSecretKey(validateEnv(base))).toEqual(derived);
    expect(webhookSecretKey(validateEnv({ JWT_SECRET: 'k'.repeat(40) }))).not.toEqual(derived);
  });
});

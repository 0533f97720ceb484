import { describe, expect, it } from '@jest/globals';
import { envValue, validateEnv } from './env.js';

describe('API_WORKERS', () => {
  it('defaults to one process and takes 1 to 64', () => {
    expect(validateEnv({ JWT_SECRET: 'j'.repeat(40) }).API_WORKERS).toBe(1);
    expect(envValue('API_WORKERS', undefined)).toBe(1);
    expect(envValue('API_WORKERS', '2')).toBe(2);
    expect(envValue('API_WORKERS', '64')).toBe(64);
  });

  it('refuses anything else with the message validateEnv gives', () => {
    for (const bad of ['0', '65', 'two', '1.5']) {
      expect(() => envValue('API_WORKERS', bad)).toThrow(/^Invalid configuration: API_WORKERS .+\. See \.env\.example\.$/);
      expect(() => validateEnv({ JWT_SECRET: 'j'.repeat(40), API_WORKERS: bad })).toThrow(/API_WORKERS/);
    }
  });
});

import { describe, expect, it } from '@jest/globals';
import { outcomeOf, retryAfterMs } from './webhook-http.js';

describe('webhook retry policy', () => {
  it('delivers on 2xx', () => {
    expect(outcomeOf(200, null).kind).toBe('delivered');
    expect(outcomeOf(204, null).kind).toBe('delivered');
  });

  it('retries 5xx and 408/425/429, keeping Retry-After', () => {
    for (const s of [500, 502, 503, 504, 408, 425, 429]) expect(outcomeOf(s, null).kind).toBe('retry');
    expect(outcomeOf(429, 3000)).toEqual({ kind: 'retry', status: 429, error: 'HTTP 429', retryAfterMs: 3000 });
  });

  it('gives up at once on other 4xx and on redirects', () => {
    for (const s of [400, 401, 403, 404, 410, 422, 301, 302])
      expect(outcomeOf(s, null)).toEqual({ kind: 'permanent', status: s, error: `HTTP ${s}` });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeNull();
    expect(retryAfterMs('soon', now)).toBeNull();
  });
});

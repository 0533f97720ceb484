import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { firstValueFrom, from, of, throwError } from 'rxjs';
import { DomainError } from '@gridflow/common';
import { IdempotencyInterceptor } from '../../apps/api/src/common/idempotency.interceptor.js';
import { createTestApp, login, type TestApp } from '../helpers/app.js';

/** The interceptor on the real database, with handlers that succeed, refuse or fail after a possible commit. */
describe('Idempotency-Key outcomes (integration)', () => {
  let t: TestApp;
  let interceptor: IdempotencyInterceptor;
  let userId: string;

  const ctx = (key: string, body: object): ExecutionContext => {
    const req = {
      headers: { 'idempotency-key': key },
      user: { userId },
      method: 'POST',
      originalUrl: '/api/v1/tasks/x/expenses',
      body,
    };
    const res = { statusCode: 201, status: () => res, setHeader: () => res };
    return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
  };
  const handler = (run: () => unknown): CallHandler => ({ handle: () => run() as never });
  const call = (key: string, body: object, run: () => unknown) =>
    firstValueFrom(interceptor.intercept(ctx(key, body), handler(run)));

  beforeAll(async () => {
    t = await createTestApp();
    interceptor = new IdempotencyInterceptor(t.ds);
    userId = (await login(t, 'xh-cgj-staff')).user.id;
  });
  afterAll(async () => {
    await t.close();
  });

  it('a refusal frees the key: the corrected retry runs', async () => {
    await expect(
      call('refused-1', { a: 1 }, () => throwError(() => new DomainError('INSUFFICIENT_FUNDS', 'no'))),
    ).rejects.toThrow('no');
    let ran = 0;
    await expect(
      call('refused-1', { a: 1 }, () => {
        ran++;
        return of({ ok: true });
      }),
    ).resolves.toEqual({ ok: true });
    expect(ran).toBe(1);
  });

  it('a failure that may have come after the commit keeps the key: a retry is 409, the work does not run twice', async () => {
    await expect(call('unknown-1', { a: 1 }, () => throwError(() => new Error('connection reset')))).rejects.toThrow(
      'connection reset',
    );
    let ran = 0;
    const retry = call('unknown-1', { a: 1 }, () => {
      ran++;
      return of({ ok: true });
    });
    await expect(retry).rejects.toMatchObject({ code: 'IDEMPOTENCY_OUTCOME_UNKNOWN' });
    expect(ran).toBe(0);
  });

  it('a key its request never finished (process or database gone) is in progress for a minute, then outcome unknown', async () => {
    // the first request claims the key and never comes back
    let release: () => void = () => undefined;
    const hung = call('hung-1', { a: 1 }, () => from(new Promise((r) => (release = () => r({ late: true })))));
    await new Promise((r) => setTimeout(r, 100));
    let ran = 0;
    const again = () =>
      call('hung-1', { a: 1 }, () => {
        ran++;
        return of({ ok: true });
      });
    await expect(again()).rejects.toMatchObject({ code: 'CONFLICT' });
    // a minute later (the row's clock moved back), the retry learns the outcome is unknown; nothing ran twice
    await t.ds.query('UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL 61 SECOND WHERE user_id = ? AND idem_key = ?', [
      userId,
      'hung-1',
    ]);
    await expect(again()).rejects.toMatchObject({ code: 'IDEMPOTENCY_OUTCOME_UNKNOWN' });
    await expect(again()).rejects.toMatchObject({ code: 'IDEMPOTENCY_OUTCOME_UNKNOWN' });
    expect(ran).toBe(0);
    release();
    await hung;
  });

  it('a success is replayed, and the same key with another body is refused', async () => {
    let ran = 0;
    const first = await call('ok-1', { a: 1 }, () => {
      ran++;
      return of({ n: ran });
    });
    const again = await call('ok-1', { a: 1 }, () => {
      ran++;
      return of({ n: ran });
    });
    expect(again).toEqual(first);
    expect(ran).toBe(1);
    await expect(call('ok-1', { a: 2 }, () => of({}))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });
});

import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import { ErrorCode } from '@gridflow/common';
import { PrincipalLoader } from './principal.loader.js';

/** A users ⋈ org_units row as the loader's query returns it; `reads` counts the queries. */
function fakeDb(row: Record<string, unknown>) {
  const db = { row: { ...row }, reads: 0 };
  const ds = {
    query: async () => {
      db.reads++;
      return [{ ...db.row }];
    },
  } as unknown as DataSource;
  return { db, ds };
}

const ROW = {
  id: 'u1',
  username: 'jd1-leader',
  roles: 'leader,staff',
  disabled: 0,
  orgUnitId: 'o1',
  path: '/d/jd1/',
  unitDisabled: 0,
};
const loaderWith = (ds: DataSource, principalCacheMs: number) =>
  new PrincipalLoader(ds, new ConfigService({ auth: { principalCacheMs } }));

describe('PrincipalLoader', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('reuses a caller read within the cache time and reads again after it', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const { db, ds } = fakeDb(ROW);
    const loader = loaderWith(ds, 1000);
    expect(await loader.load('u1')).toEqual({
      userId: 'u1',
      username: 'jd1-leader',
      orgUnitId: 'o1',
      orgUnitPath: '/d/jd1/',
      roles: ['leader', 'staff'],
    });
    db.row.roles = 'staff';
    jest.advanceTimersByTime(900);
    expect((await loader.load('u1')).roles).toEqual(['leader', 'staff']);
    expect(db.reads).toBe(1);
    jest.advanceTimersByTime(200);
    expect((await loader.load('u1')).roles).toEqual(['staff']);
    expect(db.reads).toBe(2);
  });

  it('reads again at once after forget, for the one user or for everyone', async () => {
    const { db, ds } = fakeDb(ROW);
    const loader = loaderWith(ds, 1000);
    await loader.load('u1');
    db.row.disabled = 1;
    loader.forget('u1');
    await expect(loader.load('u1')).rejects.toMatchObject({ code: ErrorCode.USER_DISABLED });
    db.row.disabled = 0;
    await loader.load('u1');
    db.row.unitDisabled = 1;
    loader.forget();
    await expect(loader.load('u1')).rejects.toMatchObject({ code: ErrorCode.USER_DISABLED });
  });

  it('never caches a refusal, and with a cache time of 0 reads on every request', async () => {
    const { db, ds } = fakeDb({ ...ROW, disabled: 1 });
    const loader = loaderWith(ds, 1000);
    await expect(loader.load('u1')).rejects.toMatchObject({ code: ErrorCode.USER_DISABLED });
    db.row.disabled = 0;
    expect((await loader.load('u1')).userId).toBe('u1');

    const uncached = fakeDb(ROW);
    const everyTime = loaderWith(uncached.ds, 0);
    await everyTime.load('u1');
    await everyTime.load('u1');
    expect(uncached.db.reads).toBe(2);
  });

  it('hands out a principal no request can change for the next one', async () => {
    const { ds } = fakeDb(ROW);
    const loader = loaderWith(ds, 1000);
    const p = await loader.load('u1');
    expect(() => p.roles.push('admin')).toThrow(TypeError);
    expect(() => Object.assign(p, { orgUnitPath: '/' })).toThrow(TypeError);
  });
});

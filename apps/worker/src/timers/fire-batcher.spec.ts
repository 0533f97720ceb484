import { describe, expect, it } from '@jest/globals';
import type { FireOutcome } from '@gridflow/domain';
import { FireBatcher } from './fire-batcher.js';

const fired: FireOutcome = { kind: 'fired', timer: 'remind', notified: 1 };

/** A batcher whose firings all succeed, recording the ids of each call. */
function recording(opts: ConstructorParameters<typeof FireBatcher>[1]) {
  const calls: string[][] = [];
  const batcher = new FireBatcher(async (ids) => {
    calls.push(ids);
    return new Map(ids.map((id) => [id, fired]));
  }, opts);
  return { batcher, calls };
}

describe('FireBatcher', () => {
  it('fires rows submitted together in one call, and splits at maxSize', async () => {
    const { batcher, calls } = recording({ maxSize: 3, maxInFlight: 4 });
    const outcomes = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => batcher.submit(id)));
    expect(outcomes).toEqual([fired, fired, fired, fired, fired]);
    expect(calls).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('retries the rows of a failed batch one by one, so one bad row fails only its own job', async () => {
    const calls: string[][] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        if (ids.includes('bad')) throw new Error('deadlock');
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 10, maxInFlight: 4 },
    );
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((id) => batcher.submit(id)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fires a lone row at once, and gathers what arrives while the batches in flight are busy', async () => {
    const calls: string[][] = [];
    const gates: (() => void)[] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        await new Promise<void>((r) => gates.push(r));
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 100, maxInFlight: 1 },
    );
    const first = batcher.submit('a');
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([['a']]);
    // while 'a' is in flight, b, c and d queue up (over several turns of the event loop)
    const rest = [batcher.submit('b')];
    await new Promise((r) => setImmediate(r));
    rest.push(batcher.submit('c'), batcher.submit('d'));
    await new Promise((r) => setImmediate(r));
    expect(batcher.load).toEqual({ waiting: 3, inFlight: 1 });
    gates.shift()?.();
    await first;
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    gates.shift()?.();
    expect(await Promise.all(rest)).toEqual([fired, fired, fired]);
    expect(batcher.load).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('rejects a row its batch did not answer for', async () => {
    const batcher = new FireBatcher(async () => new Map<string, FireOutcome>(), { maxSize: 10, maxInFlight: 4 });
    await expect(batcher.submit('x')).rejects.toThrow('was not fired');
  });
});

describe('FireBatcher: shared and remembered firings', () => {
  it('gives a row asked for twice one firing, and answers it from memory once it settled', async () => {
    const { batcher, calls } = recording({ maxSize: 10, maxInFlight: 1, remember: 2 });
    expect(await Promise.all([batcher.submit('a'), batcher.submit('a'), batcher.submit('b')])).toEqual([
      fired,
      fired,
      fired,
    ]);
    expect(calls).toEqual([['a', 'b']]);
    expect(await batcher.submit('a')).toEqual(fired);
    expect(calls).toEqual([['a', 'b']]);
    // only the last `remember` outcomes are kept: 'c' pushes 'a' out
    await batcher.submit('c');
    await batcher.submit('a');
    expect(calls).toEqual([['a', 'b'], ['c'], ['a']]);
  });

  it('does not remember an early wake-up, nor a failure', async () => {
    let early = true;
    let failing = true;
    const calls: string[][] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        if (ids.includes('x') && failing) throw new Error('lock wait timeout');
        if (early) return new Map(ids.map((id) => [id, { kind: 'not-due', dueAt: new Date(0) } as FireOutcome]));
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 10, maxInFlight: 1, remember: 100 },
    );
    expect((await batcher.submit('a')).kind).toBe('not-due');
    early = false;
    expect(await batcher.submit('a')).toEqual(fired);
    await expect(batcher.submit('x')).rejects.toThrow('lock wait timeout');
    failing = false;
    expect(await batcher.submit('x')).toEqual(fired);
    expect(calls).toEqual([['a'], ['a'], ['x'], ['x']]);
  });

  it('passes the rows the caller read along, so the batch does not read them again', async () => {
    const seen: string[][] = [];
    const batcher = new FireBatcher(
      async (ids, known) => {
        seen.push([...known.keys()]);
        return new Map(ids.map((id) => [id, fired]));
      },
      { maxSize: 10, maxInFlight: 1 },
    );
    const head = { id: 'a', task_id: 't', due_at: new Date(0), status: 'pending', do_action: '{"kind":"remind"}' };
    await Promise.all([batcher.submit('a', head), batcher.submit('b')]);
    expect(seen).toEqual([['a']]);
  });
});

describe('FireBatcher: what memory and outages do not hide', () => {
  const pendingHead = (id: string) => ({
    id,
    task_id: 't',
    due_at: new Date(0),
    status: 'pending',
    do_action: '{"kind":"remind"}',
  });

  it('fires a remembered row again when the caller has just read it as pending', async () => {
    const { batcher, calls } = recording({ maxSize: 10, maxInFlight: 1, remember: 10 });
    await batcher.submit('a');
    await batcher.submit('a'); // from memory
    await batcher.submit('a', pendingHead('a')); // the database says pending: fired again
    expect(calls).toEqual([['a'], ['a']]);
  });

  it("answers a pending read sent before the row's firing settled from memory, and fires one sent after again", async () => {
    const { batcher, calls } = recording({ maxSize: 10, maxInFlight: 1, remember: 10 });
    // the drain sent its read while the row's batch was still in flight, so the read may predate the commit
    const readBefore = performance.now();
    await new Promise((r) => setTimeout(r, 5));
    await batcher.submit('a');
    expect(await batcher.submit('a', pendingHead('a'), readBefore)).toEqual(fired);
    expect(calls).toEqual([['a']]);
    // a read sent after the firing settled that still finds the row pending: the row was reset, fire it again
    await new Promise((r) => setTimeout(r, 5));
    await batcher.submit('a', pendingHead('a'), performance.now());
    expect(calls).toEqual([['a'], ['a']]);
  });

  it('fails a whole batch at once when the database is unreachable, instead of retrying row by row', async () => {
    const calls: string[][] = [];
    const batcher = new FireBatcher(
      async (ids) => {
        calls.push(ids);
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });
      },
      { maxSize: 10, maxInFlight: 1 },
    );
    const results = await Promise.allSettled(['a', 'b', 'c'].map((id) => batcher.submit(id)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });
});

import { describe, expect, it } from '@jest/globals';
import type { FireOutcome, TimerHead } from '@gridflow/domain';
import { FireBatcher } from './fire-batcher.js';
import { TimerDrain, type TimerDrainOptions, type TimerDrainSource } from './timer-drain.js';

const OPTS: TimerDrainOptions = {
  pollMs: 5,
  lookaheadMs: 200,
  readLimit: 3,
  maxWaiting: 100,
  failedBackoffMs: 60_000,
  rewindEveryMs: 0,
  watchEveryMs: 20,
  overdueMs: 50,
};

/** Rows in memory, ordered by due time as the index is; firing marks them fired. */
class Rows implements TimerDrainSource {
  readonly rows: (TimerHead & { dueMs: number })[] = [];
  readonly reads: number[] = [];
  add(id: string, dueMs: number): void {
    this.rows.push({ id, task_id: `task-${id}`, due_at: new Date(dueMs), dueMs, status: 'pending', do_action: '{}' });
    this.rows.sort((a, b) => a.dueMs - b.dueMs || a.id.localeCompare(b.id));
  }
  async dueHeads(now: Date, limit: number, after?: { dueAt: Date; id: string }): Promise<TimerHead[]> {
    const due = this.rows.filter(
      (r) =>
        r.status === 'pending' &&
        r.dueMs <= now.getTime() &&
        (!after || r.dueMs > after.dueAt.getTime() || (r.dueMs === after.dueAt.getTime() && r.id > after.id)),
    );
    this.reads.push(due.length);
    return due.slice(0, limit);
  }
  async nextDueAfter(now: Date): Promise<Date | null> {
    const next = this.rows.find((r) => r.status === 'pending' && r.dueMs > now.getTime());
    return next ? new Date(next.dueMs) : null;
  }
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

function setup(fail: (id: string) => boolean = () => false) {
  const source = new Rows();
  const firedAt = new Map<string, number>();
  const batcher = new FireBatcher(
    async (ids, known) => {
      const out = new Map<string, FireOutcome>();
      for (const id of ids) {
        if (fail(id)) throw new Error(`row ${id} fails`);
        const row = source.rows.find((r) => r.id === id);
        if (!row || row.status !== 'pending') {
          out.set(id, { kind: 'not-pending', status: row?.status ?? 'gone' });
          continue;
        }
        expect(known.has(id)).toBe(true);
        row.status = 'fired';
        firedAt.set(id, Date.now());
        out.set(id, { kind: 'fired', timer: 'remind', notified: 1 });
      }
      return out;
    },
    { maxSize: 2, maxInFlight: 2, remember: 1000 },
  );
  const drain = new TimerDrain(source, batcher, OPTS);
  return { source, batcher, drain, firedAt };
}

describe('TimerDrain', () => {
  it('fires every row already due, in batches, and stops when nothing comes due soon', async () => {
    const { source, batcher, drain, firedAt } = setup();
    const now = Date.now();
    for (let i = 0; i < 7; i++) source.add(`r${i}`, now - 1000 + i);
    source.add('later', now + 60_000);
    drain.kick();
    expect(drain.active).toBe(true);
    await until(() => !drain.active);
    // the drain has handed every row over; the batcher fires the last of them
    await batcher.whenIdle(2000);
    expect([...firedAt.keys()].sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(source.rows.find((r) => r.id === 'later')?.status).toBe('pending');
    // the job of a drained row is answered from memory
    expect(await batcher.submit('r3')).toEqual({ kind: 'fired', timer: 'remind', notified: 1 });
  });

  it('keeps watching while rows come due within the lookahead, and fires each about when it is due', async () => {
    const { source, drain, firedAt } = setup();
    const now = Date.now();
    source.add('now', now - 1);
    for (let i = 1; i <= 4; i++) source.add(`soon${i}`, now + i * 40);
    drain.kick();
    await until(() => firedAt.size === 5);
    for (let i = 1; i <= 4; i++) {
      const late = (firedAt.get(`soon${i}`) as number) - (now + i * 40);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(150);
    }
    await until(() => !drain.active);
  });

  it('leaves a row whose firing fails to its own job instead of retrying it on every pass', async () => {
    const { source, drain, firedAt } = setup((id) => id === 'bad');
    const now = Date.now();
    source.add('a', now - 10);
    source.add('bad', now - 9);
    source.add('c', now - 8);
    drain.kick();
    await until(() => !drain.active);
    expect([...firedAt.keys()].sort()).toEqual(['a', 'c']);
    // a new kick passes the failed row by for its backoff
    const readsBefore = source.reads.length;
    drain.kick();
    await until(() => !drain.active);
    expect(source.reads.length).toBeGreaterThan(readsBefore);
    expect(firedAt.has('bad')).toBe(false);
    expect(source.rows.find((r) => r.id === 'bad')?.status).toBe('pending');
  });

  it('the watch drains a row overdue with no job to wake it, and leaves rows not yet due alone', async () => {
    const { source, drain, firedAt } = setup();
    const now = Date.now();
    source.add('fresh', now + 10_000);
    drain.watch();
    await new Promise((r) => setTimeout(r, 100));
    expect(firedAt.size).toBe(0);
    source.add('lost', now - 500);
    await until(() => firedAt.has('lost'));
    await drain.stop();
  });

  it('a wake-up while the drain waits for a later row cuts the wait short: an earlier row written meanwhile fires on time', async () => {
    const { source, drain, firedAt } = setup();
    const now = Date.now();
    source.add('first', now - 1);
    source.add('later', now + 180); // within the lookahead: the drain waits for it
    drain.kick();
    await until(() => firedAt.has('first'));
    // a row due before the one the drain waits for is written, and its wake-up comes
    await new Promise((r) => setTimeout(r, 20));
    source.add('urgent', Date.now() - 1);
    const woken = Date.now();
    drain.kick();
    await until(() => firedAt.has('urgent'));
    expect((firedAt.get('urgent') as number) - woken).toBeLessThan(100);
    expect(firedAt.has('later')).toBe(false);
    await until(() => firedAt.has('later'));
    await until(() => !drain.active);
  });

  it('a wake-up while the drain runs makes it look again before it stops', async () => {
    const { source, drain, firedAt } = setup();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // the drain's last look (nothing more due soon) is held until a row is written and woken for
    const nextDueAfter = source.nextDueAfter.bind(source);
    let holding = true;
    source.nextDueAfter = async (now: Date) => {
      const answer = await nextDueAfter(now);
      if (holding) await held;
      return answer;
    };
    source.add('a', Date.now() - 1);
    drain.kick();
    await until(() => firedAt.has('a'));
    source.add('written-late', Date.now() - 1);
    holding = false;
    drain.kick(); // the wake-up of the new row, while the drain is still running
    release();
    await until(() => firedAt.has('written-late'));
    await until(() => !drain.active);
  });

  it('while batches are in flight, wake-ups send the drain back to the oldest due row at most every rewindEveryMs', async () => {
    const source = new Rows();
    const fired = new Set<string>();
    const batcher = new FireBatcher(
      async (ids) => {
        await new Promise((r) => setTimeout(r, 30)); // a batch takes a while: the rows stay in flight
        const out = new Map<string, FireOutcome>();
        for (const id of ids) {
          const row = source.rows.find((r) => r.id === id);
          if (row?.status === 'pending') {
            row.status = 'fired';
            fired.add(id);
          }
          out.set(id, { kind: 'fired', timer: 'remind', notified: 1 });
        }
        return out;
      },
      { maxSize: 2, maxInFlight: 2, remember: 1000 },
    );
    /** Reads from the oldest due row while batches were in flight, during the first half of the burst. */
    let rewoundBusy = 0;
    let counting = true;
    const dueHeads = source.dueHeads.bind(source);
    source.dueHeads = async (now, limit, after) => {
      if (!after && counting && !batcher.idle) rewoundBusy++;
      return dueHeads(now, limit, after);
    };
    const drain = new TimerDrain(source, batcher, {
      ...OPTS,
      readLimit: 100,
      lookaheadMs: 2_000,
      rewindEveryMs: 10_000,
    });
    const now = Date.now();
    for (let i = 0; i < 24; i++) source.add(`r${String(i).padStart(2, '0')}`, now - 100 + i);
    // a row due a little later keeps the drain running through the burst, as the rest of a burst's second does
    source.add('z-later', now + 600);
    drain.kick();
    // a wake-up every 10 ms while the batches work through the rows
    const waking = setInterval(() => drain.kick(), 10);
    try {
      await until(() => fired.size >= 12);
      counting = false;
      // a row written behind the drain's cursor meanwhile (due before the rows it read)
      source.add('late', now - 200);
      await until(() => fired.has('late'), 5000);
      await until(() => fired.size === 26, 5000);
    } finally {
      clearInterval(waking);
    }
    // at most once in the first half of the burst (one per wake-up before, a dozen or more), and the late row was
    // still found: once nothing was in flight, the drain went back to the oldest due row
    expect(rewoundBusy).toBeLessThanOrEqual(1);
    await until(() => !drain.active);
    await drain.stop();
  });

  it('does not start again once stopped', async () => {
    const { source, drain, firedAt } = setup();
    await drain.stop();
    source.add('a', Date.now() - 1);
    drain.kick();
    expect(drain.active).toBe(false);
    expect(firedAt.size).toBe(0);
  });
});

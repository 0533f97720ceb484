import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { CalendarService } from '@gridflow/domain';
import { createDataSource } from '@gridflow/persistence';

/** Resolves `p`, or rejects after `ms` (a hang shows up as a failure, not as a stuck suite). */
const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

describe('working-day calendar inside task transactions (integration, real MariaDB)', () => {
  let ds: DataSource;

  beforeAll(async () => {
    // one connection: a calendar read that went through the pool instead of the transaction would wait forever
    ds = createDataSource({ url: process.env.DATABASE_URL as string, poolSize: 1 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
  });

  it('schedules working-day timers through the transaction it is given, with a cold cache', async () => {
    const calendar = new CalendarService(ds);
    // 2026-09-30 (Wed) 10:00 in Beijing: National Day runs 1–7 October; Sat 10 October is a make-up working day
    const due = new Date('2026-10-12T02:00:00.000Z');
    const starts = [
      { timerId: 'two-days-before', dueAt: '2026-10-10T02:00:00.000Z', workingDays: { from: due.toISOString(), days: -2 } },
      { timerId: 'plain', dueAt: '2026-10-01T00:00:00.000Z' },
    ];
    const now = new Date('2026-09-30T02:00:00.000Z');
    const scheduled = await within(
      ds.transaction((em) => calendar.scheduleTimers(starts, now, em)),
      10_000,
    );
    // two working days before Mon 12 Oct: Sat 10 Oct (make-up day) and Fri 9 Oct, not Thu 8 Oct
    expect(scheduled).toEqual([
      { ...starts[0], dueAt: '2026-10-09T02:00:00.000Z' },
      starts[1],
    ]);
    // a before-deadline timer whose moment has passed is not started
    const late = await within(
      ds.transaction((em) => calendar.scheduleTimers(starts, new Date('2026-10-11T00:00:00.000Z'), em)),
      10_000,
    );
    expect(late.map((t) => t.timerId)).toEqual(['plain']);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { type CalendarDay, isLocalDate, validateCalendarDays, WorkingCalendar } from './working-days.js';

const load = (year: number) =>
  JSON.parse(readFileSync(`config/calendar/cn-${year}.json`, 'utf8')) as { year: number; days: CalendarDay[] };
const cal = new WorkingCalendar([...load(2026).days, ...load(2027).days]);
/** 09:00 China Standard Time on a local date. */
const at9 = (date: string) => new Date(`${date}T01:00:00.000Z`);
const local = (d: Date) => cal.localDate(d);

describe('working-day calendar (2026 State Council schedule)', () => {
  it('ships valid files: dates inside the year, make-up working days on weekends only', () => {
    for (const y of [2026, 2027]) expect(validateCalendarDays(y, load(y).days)).toEqual([]);
    expect(load(2026).days.filter((d) => d.kind === 'holiday')).toHaveLength(33);
    expect(
      load(2026)
        .days.filter((d) => d.kind === 'workday')
        .map((d) => d.date),
    ).toEqual(['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10']);
  });

  it('classifies Spring Festival 2026: Sat 14 Feb works, 15–23 Feb are off, Sat 28 Feb works', () => {
    expect(cal.isWorkingDay('2026-02-13')).toBe(true); // Friday
    expect(cal.isWorkingDay('2026-02-14')).toBe(true); // Saturday, make-up working day
    for (let d = 15; d <= 23; d++) expect(cal.isWorkingDay(`2026-02-${d}`)).toBe(false);
    expect(cal.isWorkingDay('2026-02-23')).toBe(false); // a Monday off
    expect(cal.isWorkingDay('2026-02-24')).toBe(true);
    expect(cal.isWorkingDay('2026-02-28')).toBe(true); // Saturday, make-up working day
    expect(cal.isWorkingDay('2026-03-01')).toBe(false); // an ordinary Sunday
  });

  it('adds working days across the Spring Festival holiday and its make-up days', () => {
    // Friday 13 Feb + 1 → Saturday 14 Feb (调休上班), + 2 → Tuesday 24 Feb (nine days off in between)
    expect(local(cal.addWorkingDays(at9('2026-02-13'), 1))).toBe('2026-02-14');
    expect(local(cal.addWorkingDays(at9('2026-02-13'), 2))).toBe('2026-02-24');
    // from inside the holiday, the first working day after it
    expect(local(cal.addWorkingDays(at9('2026-02-17'), 1))).toBe('2026-02-24');
    // 24 Feb + 4 → Sat 28 Feb counts, so it lands on Saturday 28 Feb
    expect(local(cal.addWorkingDays(at9('2026-02-24'), 4))).toBe('2026-02-28');
    // backwards: "3 working days before the deadline" of Wed 25 Feb is Fri 13 Feb
    expect(local(cal.addWorkingDays(at9('2026-02-25'), -3))).toBe('2026-02-13');
    // the local time of day is kept
    expect(cal.addWorkingDays(at9('2026-02-13'), 2).toISOString()).toBe('2026-02-24T01:00:00.000Z');
    expect(cal.workingDaysBetween(at9('2026-02-13'), at9('2026-02-24'))).toBe(2);
    expect(cal.workingDaysBetween(at9('2026-02-24'), at9('2026-02-13'))).toBe(-2);
  });

  it('adds working days across National Day 2026 (Sun 20 Sep and Sat 10 Oct work; 25–27 Sep and 1–7 Oct off)', () => {
    expect(local(cal.addWorkingDays(at9('2026-09-18'), 1))).toBe('2026-09-20'); // Fri → Sun (调休上班)
    expect(local(cal.addWorkingDays(at9('2026-09-24'), 1))).toBe('2026-09-28'); // Thu → Mon over Mid-Autumn
    expect(local(cal.addWorkingDays(at9('2026-09-30'), 1))).toBe('2026-10-08'); // Wed → Thu after the Golden Week
    expect(local(cal.addWorkingDays(at9('2026-10-09'), 1))).toBe('2026-10-10'); // Fri → Sat (调休上班)
    expect(local(cal.addWorkingDays(at9('2026-10-09'), 2))).toBe('2026-10-12');
  });

  it('maps instants to China Standard Time dates: 23:30 UTC on the 13th is already the 14th in Beijing', () => {
    expect(cal.localDate(new Date('2026-02-13T23:30:00Z'))).toBe('2026-02-14');
    expect(cal.isWorkingDay(new Date('2026-02-14T16:30:00Z'))).toBe(false); // 00:30 on the 15th, Spring Festival
  });

  it('crosses the year end, and treats an empty calendar as Monday to Friday', () => {
    expect(local(cal.addWorkingDays(at9('2026-12-31'), 1))).toBe('2027-01-04'); // Fri 1 Jan 2027 is New Year's Day
    const plain = new WorkingCalendar();
    expect(local(plain.addWorkingDays(at9('2026-02-13'), 2))).toBe('2026-02-17');
    expect(plain.addWorkingDays(at9('2026-02-13'), 0).toISOString()).toBe(at9('2026-02-13').toISOString());
  });

  it('validates an administrator’s days', () => {
    expect(isLocalDate('2026-02-30')).toBe(false);
    expect(
      validateCalendarDays(2026, [
        { date: '2026-02-30', kind: 'holiday' },
        { date: '2027-01-01', kind: 'holiday' },
        { date: '2026-02-16', kind: 'workday' },
        { date: '2026-05-01', kind: 'holiday' },
        { date: '2026-05-01', kind: 'day-off' },
      ]).map((e) => e.path),
    ).toEqual(['days[0].date', 'days[1].date', 'days[2].kind', 'days[4].date', 'days[4].kind']);
  });
});

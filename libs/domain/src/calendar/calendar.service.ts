import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, ErrorCode, type Principal } from '@gridflow/common';
import { CalendarDayEntity, CalendarYearEntity } from '@gridflow/persistence';
import { type CalendarDay, validateCalendarDays, WorkingCalendar } from './working-days.js';

export const DEFAULT_CALENDAR_CODE = 'cn';

export interface CalendarYear {
  code: string;
  year: number;
  /** `admin`: set through the API; `config`: the shipped `config/calendar/<code>-<year>.json`; `none`: weekends only. */
  source: 'admin' | 'config' | 'none';
  note: string | null;
  updatedAt: string | null;
  days: CalendarDay[];
}

const CACHE_MS = 60_000;

/**
 * The working-day calendar: the shipped State Council schedules in `config/calendar/`, replaced year by year by
 * what administrators store through the API. Years are cached per process for a minute, so an administrator's
 * change reaches every API and worker process within that time.
 */
@Injectable()
export class CalendarService {
  private readonly cache = new Map<string, { at: number; year: CalendarYear }>();
  private readonly configDir = resolve(process.cwd(), 'config', 'calendar');

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * A year of the calendar. Inside a transaction pass its `em`: a read through the pool would wait for a second
   * connection while the transaction holds one, and a pool full of such transactions would wait forever.
   */
  async year(year: number, code = DEFAULT_CALENDAR_CODE, em: EntityManager = this.ds.manager): Promise<CalendarYear> {
    assertYear(year);
    const key = `${code}-${year}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.year;
    const loaded = (await this.fromDatabase(code, year, em)) ?? this.fromConfig(code, year);
    this.cache.set(key, { at: Date.now(), year: loaded });
    return loaded;
  }

  /** A calendar covering `fromYear`..`toYear` (inclusive). */
  async calendar(
    fromYear: number,
    toYear = fromYear,
    code = DEFAULT_CALENDAR_CODE,
    em: EntityManager = this.ds.manager,
  ): Promise<WorkingCalendar> {
    const days: CalendarDay[] = [];
    for (let y = Math.min(fromYear, toYear); y <= Math.max(fromYear, toYear); y++)
      days.push(...(await this.year(y, code, em)).days);
    return new WorkingCalendar(days);
  }

  /** `n` working days after (or, negative, before) `date`, at the same local time of day. */
  async addWorkingDays(
    date: Date,
    n: number,
    opts: { code?: string; em?: EntityManager } = {},
  ): Promise<Date> {
    const y = new Date(date.getTime() + 8 * 3600_000).getUTCFullYear();
    const span = Math.ceil(Math.abs(n) / 240) + 1;
    const cal = await this.calendar(n < 0 ? y - span : y, n < 0 ? y : y + span, opts.code, opts.em);
    return cal.addWorkingDays(date, n);
  }

  /**
   * Puts the working-day timers an evaluation started (`afterWorkingDays`, `workingDaysBeforeDeadline`) on the
   * calendar: their fire time becomes `days` working days from their base, at the same time of day. A
   * before-deadline timer whose moment has already passed is dropped (the task is inside the window); none fires
   * earlier than `now`. Other timers pass through unchanged.
   */
  async scheduleTimers<T extends { dueAt: string; workingDays?: { from: string; days: number } }>(
    starts: T[],
    now: Date,
    em: EntityManager = this.ds.manager,
  ): Promise<T[]> {
    const out: T[] = [];
    for (const t of starts) {
      if (!t.workingDays) {
        out.push(t);
        continue;
      }
      const at = await this.addWorkingDays(new Date(t.workingDays.from), t.workingDays.days, { em });
      if (t.workingDays.days < 0 && at.getTime() < now.getTime()) continue;
      out.push({ ...t, dueAt: new Date(Math.max(at.getTime(), now.getTime())).toISOString() });
    }
    return out;
  }

  async isWorkingDay(date: Date, code = DEFAULT_CALENDAR_CODE): Promise<boolean> {
    const cal = await this.calendar(new Date(date.getTime() + 8 * 3600_000).getUTCFullYear(), undefined, code);
    return cal.isWorkingDay(date);
  }

  /** Replaces a year's exception days (administrators). */
  async replaceYear(
    principal: Principal,
    year: number,
    input: { days: unknown; note?: string | null },
    code = DEFAULT_CALENDAR_CODE,
  ): Promise<CalendarYear> {
    assertYear(year);
    const errors = validateCalendarDays(year, input.days);
    if (errors.length) throw new DomainError(ErrorCode.VALIDATION_FAILED, 'The calendar is invalid', { errors });
    const days = (input.days as CalendarDay[]).map((d) => ({ date: d.date, kind: d.kind, name: d.name ?? null }));
    await this.ds.transaction(async (em) => {
      await em.query('DELETE FROM calendar_days WHERE calendar_code = ? AND day BETWEEN ? AND ?', [
        code,
        `${year}-01-01`,
        `${year}-12-31`,
      ]);
      if (days.length) {
        await em
          .getRepository(CalendarDayEntity)
          .insert(days.map((d) => ({ calendarCode: code, day: d.date, kind: d.kind, name: d.name })));
      }
      await em.query(
        `INSERT INTO calendar_years (calendar_code, year, note, updated_by, updated_at) VALUES (?, ?, ?, ?, NOW(3))
           ON DUPLICATE KEY UPDATE note = VALUES(note), updated_by = VALUES(updated_by), updated_at = NOW(3)`,
        [code, year, input.note ?? null, principal.userId],
      );
    });
    this.cache.delete(`${code}-${year}`);
    return this.year(year, code);
  }

  private async fromDatabase(code: string, year: number, em: EntityManager): Promise<CalendarYear | null> {
    const head = await em.getRepository(CalendarYearEntity).findOneBy({ calendarCode: code, year });
    if (!head) return null;
    const rows = (await em.query(
      "SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, kind, name FROM calendar_days WHERE calendar_code = ? AND day BETWEEN ? AND ? ORDER BY day",
      [code, `${year}-01-01`, `${year}-12-31`],
    )) as { day: string; kind: CalendarDay['kind']; name: string | null }[];
    return {
      code,
      year,
      source: 'admin',
      note: head.note,
      updatedAt: head.updatedAt.toISOString(),
      days: rows.map((r) => ({ date: r.day, kind: r.kind, name: r.name })),
    };
  }

  private fromConfig(code: string, year: number): CalendarYear {
    const file = join(this.configDir, `${code}-${year}.json`);
    if (!existsSync(file)) return { code, year, source: 'none', note: null, updatedAt: null, days: [] };
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { note?: string; days?: unknown };
    const errors = validateCalendarDays(year, raw.days);
    if (errors.length) throw new Error(`${file} is invalid: ${JSON.stringify(errors)}`);
    const days = (raw.days as CalendarDay[]).map((d) => ({ date: d.date, kind: d.kind, name: d.name ?? null }));
    return { code, year, source: 'config', note: raw.note ?? null, updatedAt: null, days };
  }
}

function assertYear(year: number): void {
  if (!Number.isInteger(year) || year < 2000 || year > 2100) {
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'The year must be an integer between 2000 and 2100');
  }
}

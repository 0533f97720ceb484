/**
 * Working-day arithmetic over a calendar of exceptions: Monday to Friday are working days and weekends are rest
 * days, except for listed public holidays (`holiday`, days off) and make-up working days (`workday`, 调休上班).
 * Pure functions: no clock, no I/O. Days are local dates in the calendar's time zone (China Standard Time, UTC+8,
 * no daylight saving), so an instant is mapped to its local date before it is classified.
 */

export type CalendarDayKind = 'holiday' | 'workday';

export interface CalendarDay {
  /** Local date, `YYYY-MM-DD`. */
  date: string;
  kind: CalendarDayKind;
  name?: string | null;
}

/** China Standard Time: UTC+8 all year. */
export const CST_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isLocalDate(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const m = DATE_RE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

export class WorkingCalendar {
  private readonly kinds = new Map<string, CalendarDayKind>();

  constructor(
    days: Iterable<CalendarDay> = [],
    readonly offsetMs: number = CST_OFFSET_MS,
  ) {
    for (const d of days) this.kinds.set(d.date, d.kind);
  }

  /** The local date (`YYYY-MM-DD`) of an instant. */
  localDate(instant: Date | number): string {
    return new Date(toMs(instant) + this.offsetMs).toISOString().slice(0, 10);
  }

  /** Whether a local date (or the local date of an instant) is a working day. */
  isWorkingDay(day: string | Date | number): boolean {
    const date = typeof day === 'string' ? day : this.localDate(day);
    const kind = this.kinds.get(date);
    if (kind) return kind === 'workday';
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    return weekday !== 0 && weekday !== 6;
  }

  /**
   * The instant `n` working days after (n > 0) or before (n < 0) `instant`, at the same local time of day. Each
   * step moves one calendar day and counts only the days it lands on that are working days, so Friday + 1 is the
   * next Monday (or later, across a holiday), and a holiday + 1 is the first working day after it. n = 0 returns
   * the instant unchanged.
   */
  addWorkingDays(instant: Date | number, n: number): Date {
    if (!Number.isInteger(n)) throw new RangeError('n must be an integer');
    let ms = toMs(instant);
    const step = n < 0 ? -DAY_MS : DAY_MS;
    let left = Math.abs(n);
    let guard = 0;
    while (left > 0) {
      ms += step;
      if (this.isWorkingDay(ms)) left -= 1;
      if (++guard > 3660) throw new RangeError('no working day within ten years');
    }
    return new Date(ms);
  }

  /** Working days in the half-open local-date range (from, to]: how many working days `to` is after `from`. */
  workingDaysBetween(from: Date | number, to: Date | number): number {
    const a = this.localDate(from);
    const b = this.localDate(to);
    if (a === b) return 0;
    const sign = a < b ? 1 : -1;
    let count = 0;
    let ms = Date.parse(`${a}T00:00:00Z`);
    const end = Date.parse(`${b}T00:00:00Z`);
    while (ms !== end) {
      ms += sign * DAY_MS;
      if (this.isWorkingDay(new Date(ms).toISOString().slice(0, 10))) count += 1;
    }
    return sign * count;
  }
}

/** `addWorkingDays(date, n)` over a calendar: see `WorkingCalendar.addWorkingDays`. */
export function addWorkingDays(
  date: Date | number,
  n: number,
  calendar: WorkingCalendar = new WorkingCalendar(),
): Date {
  return calendar.addWorkingDays(date, n);
}

/**
 * Checks a year's exception list: real dates inside the year, a known kind, each date once, holidays on any day,
 * make-up working days only on weekends. Returns the problems (empty when valid).
 */
export function validateCalendarDays(year: number, days: unknown): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  if (!Array.isArray(days)) return [{ path: 'days', message: 'days must be an array' }];
  const seen = new Set<string>();
  days.forEach((d: unknown, i) => {
    const at = `days[${i}]`;
    if (typeof d !== 'object' || d === null) return void errors.push({ path: at, message: 'must be an object' });
    const { date, kind, name } = d as Record<string, unknown>;
    if (!isLocalDate(date)) return void errors.push({ path: `${at}.date`, message: 'must be a date YYYY-MM-DD' });
    if (!date.startsWith(`${year}-`)) errors.push({ path: `${at}.date`, message: `must be in ${year}` });
    if (seen.has(date)) errors.push({ path: `${at}.date`, message: `${date} is listed twice` });
    seen.add(date);
    if (kind !== 'holiday' && kind !== 'workday')
      errors.push({ path: `${at}.kind`, message: 'must be holiday or workday' });
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    if (kind === 'workday' && weekday !== 0 && weekday !== 6) {
      errors.push({
        path: `${at}.kind`,
        message: `${date} is a weekday: a make-up working day must fall on a weekend`,
      });
    }
    if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 64)) {
      errors.push({ path: `${at}.name`, message: 'must be a string of at most 64 characters' });
    }
  });
  return errors;
}

function toMs(instant: Date | number): number {
  return typeof instant === 'number' ? instant : instant.getTime();
}

/** ISO-8601 durations (`P1Y2M3W4DT5H6M7.5S`), added to instants in UTC calendar arithmetic. */

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION_RE =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** Parses an ISO-8601 duration; returns null when the text is not one (or is empty, like `P` or `PT`). */
export function parseDuration(text: string): Duration | null {
  if (typeof text !== 'string') return null;
  const m = DURATION_RE.exec(text);
  if (!m) return null;
  if (m.slice(1).every((g) => g === undefined)) return null;
  if (text.includes('T') && m.slice(5, 8).every((g) => g === undefined)) return null;
  const n = (g: string | undefined): number => (g === undefined ? 0 : Number(g.replace(',', '.')));
  return {
    years: n(m[1]),
    months: n(m[2]),
    weeks: n(m[3]),
    days: n(m[4]),
    hours: n(m[5]),
    minutes: n(m[6]),
    seconds: n(m[7]),
  };
}

export function isDuration(text: string): boolean {
  return parseDuration(text) !== null;
}

/** Adds a duration to an epoch-millisecond instant (UTC calendar for years/months/days). */
export function addDuration(epochMs: number, d: Duration): number {
  const date = new Date(epochMs);
  if (d.years || d.months) date.setUTCMonth(date.getUTCMonth() + d.years * 12 + d.months);
  if (d.weeks || d.days) date.setUTCDate(date.getUTCDate() + d.weeks * 7 + d.days);
  return date.getTime() + ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000;
}

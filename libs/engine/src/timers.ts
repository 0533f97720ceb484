/** Timer plans: which timers to start when a state is entered (with their fire times) and which to cancel. */
import type { CompiledState, CompiledTimer } from './compile.js';
import type { TimerStart } from './definition.js';
import { addDuration } from './duration.js';

const DAY_MS = 86_400_000;

/**
 * The working-day schedule of a timer entered at `nowMs`: `days` working days after (positive) or before (negative)
 * `from`. The engine has no calendar; the shell resolves the schedule on the working-day calendar.
 */
export function workingDaySchedule(
  timer: CompiledTimer,
  nowMs: number,
  dueMs: number | null,
): { from: number; days: number } | null {
  const t = timer.def;
  if (t.afterWorkingDays !== undefined) return { from: nowMs, days: t.afterWorkingDays };
  if (t.workingDaysBeforeDeadline !== undefined) return dueMs === null ? null : { from: dueMs, days: -t.workingDaysBeforeDeadline };
  return null;
}

/**
 * The fire time of a timer entered at `nowMs`, or null when it cannot be scheduled (a deadline-relative timer on
 * a task without a due time, or a before-deadline timer whose moment has passed). Fire times are never earlier
 * than `nowMs`.
 * - `after`: now + duration;
 * - `atFraction`: now + fraction × (due − now);
 * - `atDeadline`: the due time;
 * - `afterWorkingDays` / `workingDaysBeforeDeadline`: estimated in calendar days (see `workingDaySchedule`).
 */
export function timerFireTime(timer: CompiledTimer, nowMs: number, dueMs: number | null): number | null {
  const t = timer.def;
  if (timer.after) return addDuration(nowMs, timer.after);
  const wd = workingDaySchedule(timer, nowMs, dueMs);
  if (wd) {
    const at = wd.from + wd.days * DAY_MS;
    return wd.days < 0 && at < nowMs ? null : Math.max(nowMs, at);
  }
  if (dueMs === null) return null;
  if (t.atFraction !== undefined) return nowMs + Math.round(t.atFraction * Math.max(0, dueMs - nowMs));
  if (t.atDeadline) return Math.max(nowMs, dueMs);
  return null;
}

export function timerStart(timer: CompiledTimer, nowMs: number, dueMs: number | null): TimerStart | null {
  const at = timerFireTime(timer, nowMs, dueMs);
  if (at === null) return null;
  const wd = workingDaySchedule(timer, nowMs, dueMs);
  return {
    timerId: timer.def.id,
    state: timer.def.state,
    dueAt: new Date(at).toISOString(),
    ...(wd ? { workingDays: { from: new Date(wd.from).toISOString(), days: wd.days } } : {}),
    do: timer.def.do,
  };
}

/** Timers to start on entering `state`. */
export function timersOnEnter(state: CompiledState, nowMs: number, dueMs: number | null): TimerStart[] {
  const out: TimerStart[] = [];
  for (const t of state.timers) {
    const s = timerStart(t, nowMs, dueMs);
    if (s) out.push(s);
  }
  return out;
}

/** True when a timer's fire time depends on the task's due time. */
export function isDeadlineRelative(timer: CompiledTimer): boolean {
  return (
    timer.def.atFraction !== undefined || timer.def.atDeadline === true || timer.def.workingDaysBeforeDeadline !== undefined
  );
}

export function parseInstant(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

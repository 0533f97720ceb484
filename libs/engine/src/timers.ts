/** Timer plans: which timers to start when a state is entered (with their fire times) and which to cancel. */
import type { CompiledState, CompiledTimer } from './compile.js';
import type { TimerStart } from './definition.js';
import { addDuration } from './duration.js';

/**
 * The fire time of a timer entered at `nowMs`, or null when it cannot be scheduled (a deadline-relative timer on
 * a task without a due time). Fire times are never earlier than `nowMs`.
 * - `after`: now + duration;
 * - `atFraction`: now + fraction × (due − now);
 * - `atDeadline`: the due time.
 */
export function timerFireTime(timer: CompiledTimer, nowMs: number, dueMs: number | null): number | null {
  const t = timer.def;
  if (timer.after) return addDuration(nowMs, timer.after);
  if (dueMs === null) return null;
  if (t.atFraction !== undefined) return nowMs + Math.round(t.atFraction * Math.max(0, dueMs - nowMs));
  if (t.atDeadline) return Math.max(nowMs, dueMs);
  return null;
}

export function timerStart(timer: CompiledTimer, nowMs: number, dueMs: number | null): TimerStart | null {
  const at = timerFireTime(timer, nowMs, dueMs);
  if (at === null) return null;
  return { timerId: timer.def.id, state: timer.def.state, dueAt: new Date(at).toISOString(), do: timer.def.do };
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
  return timer.def.atFraction !== undefined || timer.def.atDeadline === true;
}

export function parseInstant(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

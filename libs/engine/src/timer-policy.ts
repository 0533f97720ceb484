/**
 * Timer policies per category: a category can tune the clock of the workflow its tasks run on without a new
 * workflow version — switch some of the workflow's timers off, replace them (same id) or add its own (acceptance
 * timeouts, reminders at fractions of the time left or N working days before the deadline, escalation rungs).
 */
import type { TimerDef, WorkflowDefinition } from './definition.js';
import { validateDefinition, type DefinitionError } from './validate.js';

export interface TimerPolicy {
  /** Timers replacing the workflow's timer of the same id, or added to them. */
  timers?: TimerDef[];
  /** Ids of the workflow's timers that do not run for this category. */
  off?: string[];
}

export type TimerPolicyResult =
  | { ok: true; definition: WorkflowDefinition }
  | { ok: false; errors: DefinitionError[] };

const POLICY_KEYS = new Set(['timers', 'off']);

/**
 * The definition with the policy applied. Errors carry JSON pointers into the policy (`/timers/0/state`, `/off/1`),
 * so an administrator sees which part of the policy does not fit the workflow.
 */
export function applyTimerPolicy(definition: WorkflowDefinition, policy: TimerPolicy | null | undefined): TimerPolicyResult {
  if (!policy) return { ok: true, definition };
  const errors: DefinitionError[] = [];
  if (typeof policy !== 'object' || Array.isArray(policy)) {
    return { ok: false, errors: [{ path: '', code: 'SCHEMA', message: 'a timer policy is an object with timers and off' }] };
  }
  for (const k of Object.keys(policy)) {
    if (!POLICY_KEYS.has(k)) errors.push({ path: `/${k}`, code: 'SCHEMA', message: `unknown field "${k}" (timers, off)` });
  }
  const own = definition.timers ?? [];
  const off = policy.off ?? [];
  const added = policy.timers ?? [];
  if (!Array.isArray(off)) errors.push({ path: '/off', code: 'SCHEMA', message: 'off must be an array of timer ids' });
  if (!Array.isArray(added)) errors.push({ path: '/timers', code: 'SCHEMA', message: 'timers must be an array' });
  if (errors.length) return { ok: false, errors };
  off.forEach((id, i) => {
    if (!own.some((t) => t.id === id)) {
      errors.push({ path: `/off/${i}`, code: 'TIMER_POLICY_UNKNOWN_TIMER', message: `the workflow has no timer "${String(id)}"` });
    }
  });
  if (errors.length) return { ok: false, errors };
  const replaced = new Set(added.map((t) => (t && typeof t === 'object' ? t.id : undefined)));
  const kept = own.filter((t) => !off.includes(t.id) && !replaced.has(t.id));
  const merged: WorkflowDefinition = { ...definition, timers: [...kept, ...added] };
  const result = validateDefinition(merged);
  if (result.valid) return { ok: true, definition: merged };
  const prefix = '/timers/';
  return {
    ok: false,
    errors: result.errors.map((e) => {
      if (!e.path.startsWith(prefix)) return e;
      const rest = e.path.slice(prefix.length);
      const index = Number(rest.split('/')[0]);
      if (!Number.isInteger(index) || index < kept.length) return e;
      return { ...e, path: `/timers/${index - kept.length}${rest.slice(String(index).length)}` };
    }),
  };
}

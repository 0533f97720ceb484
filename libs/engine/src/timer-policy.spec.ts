import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import type { WorkflowDefinition } from './definition.js';
import { evaluate, startInstance } from './evaluate.js';
import { applyTimerPolicy } from './timer-policy.js';
import { validateDefinition } from './validate.js';
import { assigneeLeader, instance, NOW, ownerLeader } from './__fixtures__/fixtures.js';

const handoff = createRequire(import.meta.url)('../../../config/workflows/handoff.json') as WorkflowDefinition;

describe('timer policies per category', () => {
  it('switches timers off, replaces one by id and adds new ones; the tasks of the category run with them', () => {
    const r = applyTimerPolicy(handoff, {
      off: ['progress-reminder'],
      timers: [
        { id: 'acceptance-reminder', state: 'pending_acceptance', after: 'PT4H', do: { kind: 'remind', to: 'assignee' } },
        { id: 'due-in-3-working-days', state: 'in_progress', workingDaysBeforeDeadline: 3, do: { kind: 'remind' } },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const start = startInstance(r.definition, instance('pending_acceptance'), ownerLeader, NOW);
    expect(start.ok && start.timers.start.map((t) => [t.timerId, t.dueAt])).toEqual([
      ['acceptance-escalation', '2025-03-03T08:00:00.000Z'],
      ['acceptance-reminder', '2025-03-01T12:00:00.000Z'],
    ]);
    const accepted = evaluate(r.definition, instance('pending_acceptance'), assigneeLeader, 'accept', {}, NOW);
    expect(accepted.ok && accepted.timers.start.map((t) => t.timerId)).toEqual([
      'due-in-one-working-day',
      'deadline-escalation',
      'due-in-3-working-days',
    ]);
    // the workflow itself is untouched
    expect(handoff.timers?.some((t) => t.id === 'progress-reminder')).toBe(true);
  });

  it('refuses a policy that does not fit the workflow, pointing into the policy', () => {
    const r = applyTimerPolicy(handoff, {
      off: ['no-such-timer'],
      timers: [],
    });
    expect(r).toEqual({ ok: false, errors: [{ path: '/off/0', code: 'TIMER_POLICY_UNKNOWN_TIMER', message: expect.any(String) }] });
    const bad = applyTimerPolicy(handoff, {
      timers: [
        { id: 'fine', state: 'in_progress', after: 'P1D', do: { kind: 'remind' } },
        { id: 'nowhere', state: 'no_such_state', after: 'P1D', do: { kind: 'remind' } },
        { id: 'two-schedules', state: 'in_progress', after: 'P1D', workingDaysBeforeDeadline: 2, do: { kind: 'remind' } },
      ],
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/timers/1/state', code: 'TIMER_UNKNOWN_STATE' }),
        expect.objectContaining({ path: '/timers/2', code: 'TIMER_BAD_SCHEDULE' }),
      ]),
    );
    expect(applyTimerPolicy(handoff, { extra: 1 } as never)).toMatchObject({ ok: false, errors: [{ path: '/extra' }] });
  });

  it('validates working-day schedules: whole days between 1 and 250', () => {
    const withTimer = (t: Record<string, unknown>) => ({ ...handoff, timers: [{ id: 't', state: 'in_progress', do: { kind: 'remind' }, ...t }] });
    expect(validateDefinition(withTimer({ afterWorkingDays: 3 })).valid).toBe(true);
    expect(validateDefinition(withTimer({ workingDaysBeforeDeadline: 0 })).valid).toBe(false);
    expect(validateDefinition(withTimer({ afterWorkingDays: 1.5 })).valid).toBe(false);
  });
});

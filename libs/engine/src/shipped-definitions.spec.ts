import { describe, it, expect } from '@jest/globals';
import { createRequire } from 'node:module';
import type { WorkflowDefinition } from './index.js';
import { entryStates, evaluate, evaluateTimer, startInstance, validateDefinition } from './index.js';
import {
  assigneeLeader,
  assigneeStaff,
  gridWorker,
  instance,
  NOW,
  ownerLeader,
  superiorLeader,
} from './__fixtures__/fixtures.js';

// The shipped definitions are read from disk (config/workflows), exactly as the shell will load them.
const load = createRequire(import.meta.url);
const handoff = load('../../../config/workflows/handoff.json') as WorkflowDefinition;
const countersign = load('../../../config/workflows/approval-countersign.json') as WorkflowDefinition;

describe('shipped definitions', () => {
  it.each([
    ['handoff', handoff],
    ['approval-countersign', countersign],
  ])('%s passes validateDefinition', (_name, def) => {
    expect(validateDefinition(def)).toEqual({ valid: true, errors: [] });
  });

  it('handoff has the contract states and actions', () => {
    expect(handoff.states.map((s) => s.id).sort()).toEqual([
      'cancelled',
      'closed',
      'in_consultation',
      'in_progress',
      'pending_acceptance',
      'returned',
      'submitted',
      'withdrawn',
    ]);
    expect(handoff.actions.map((a) => a.id).sort()).toEqual(
      [
        'accept',
        'agree',
        'approve',
        'approve-extension',
        'cancel',
        'decline',
        'deny-extension',
        'reject',
        'report-progress',
        'request-extension',
        'return',
        'submit',
        'urge',
        'withdraw',
      ].sort(),
    );
    expect(entryStates(handoff)).toEqual(['pending_acceptance', 'in_consultation', 'in_progress']);
  });

  it('handoff: the happy path from handoff to close', () => {
    const start = startInstance(handoff, instance('pending_acceptance'), ownerLeader, NOW);
    expect(start).toMatchObject({ ok: true, nextState: 'pending_acceptance', fromState: null });
    if (!start.ok) return;
    expect(start.timers.start).toEqual([
      expect.objectContaining({ timerId: 'acceptance-reminder', dueAt: '2025-03-02T08:00:00.000Z' }),
      // two working days after the handoff: the engine estimates in calendar days, the shell uses the calendar
      expect.objectContaining({
        timerId: 'acceptance-escalation',
        dueAt: '2025-03-03T08:00:00.000Z',
        workingDays: { from: NOW, days: 2 },
        do: expect.objectContaining({ kind: 'escalate', level: 1 }),
      }),
    ]);

    const accepted = evaluate(handoff, instance('pending_acceptance'), assigneeLeader, 'accept', {}, NOW);
    expect(accepted).toMatchObject({ ok: true, nextState: 'in_progress' });
    if (!accepted.ok) return;
    expect(accepted.timers.cancel).toEqual(['acceptance-reminder', 'acceptance-escalation']);
    expect(accepted.timers.start.map((t) => [t.timerId, t.dueAt, t.workingDays])).toEqual([
      ['progress-reminder', '2025-03-09T08:00:00.000Z', undefined],
      ['due-in-one-working-day', '2025-03-10T08:00:00.000Z', { from: '2025-03-11T08:00:00.000Z', days: -1 }],
      ['deadline-escalation', '2025-03-11T08:00:00.000Z', undefined],
    ]);

    const progress = evaluate(handoff, instance('in_progress'), gridWorker, 'report-progress', { percent: 40 }, NOW);
    expect(progress).toMatchObject({
      ok: true,
      nextState: 'in_progress',
      stateChanged: false,
      effects: [
        { name: 'setProgress', params: { percent: 40 } },
        { name: 'rollUpParent', params: {} },
      ],
      timers: { start: [], cancel: [] },
    });

    const submitted = evaluate(handoff, instance('in_progress'), assigneeStaff, 'submit', { summary: '完成' }, NOW);
    expect(submitted).toMatchObject({ ok: true, nextState: 'submitted' });
    const closed = evaluate(handoff, instance('submitted'), ownerLeader, 'approve', {}, NOW);
    expect(closed).toMatchObject({ ok: true, nextState: 'closed', final: true });
    if (!closed.ok) return;
    expect(closed.effects.map((e) => e.name)).toEqual([
      'setProgress',
      'settleEscrow',
      'revokeGrants',
      'rollUpParent',
      'notify',
    ]);
  });

  it('handoff: consultation is an entry state; agree / decline', () => {
    const start = startInstance(handoff, instance('x'), ownerLeader, NOW, { entryState: 'in_consultation' });
    expect(start).toMatchObject({ ok: true, nextState: 'in_consultation' });
    expect(startInstance(handoff, instance('x'), ownerLeader, NOW, { entryState: 'submitted' })).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_AN_ENTRY_STATE' },
    });
    expect(
      evaluate(handoff, instance('in_consultation'), assigneeLeader, 'agree', { terms: '街道牵头' }, NOW),
    ).toMatchObject({ ok: true, nextState: 'in_progress' });
    expect(evaluate(handoff, instance('in_consultation'), assigneeLeader, 'decline', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'PAYLOAD_INVALID' },
    });
    expect(
      evaluate(handoff, instance('in_consultation'), assigneeLeader, 'decline', { reason: '不在准入清单' }, NOW),
    ).toMatchObject({ ok: true, nextState: 'returned', final: true });
  });

  it('handoff: return needs a coded reason, and a comment for OTHER', () => {
    const ret = (payload: unknown) =>
      evaluate(handoff, instance('pending_acceptance'), assigneeLeader, 'return', payload, NOW);
    expect(ret({ reasonCode: 'INSUFFICIENT_FUNDS' })).toMatchObject({ ok: true, nextState: 'returned' });
    expect(ret({ reasonCode: 'NOPE' })).toMatchObject({ ok: false, refusal: { code: 'PAYLOAD_INVALID' } });
    expect(ret({ reasonCode: 'OTHER' })).toMatchObject({ ok: false, refusal: { code: 'PAYLOAD_INVALID' } });
    expect(ret({ reasonCode: 'OTHER', comment: '' })).toMatchObject({
      ok: false,
      refusal: { code: 'PAYLOAD_INVALID' },
    });
    const ok = ret({ reasonCode: 'OTHER', comment: '另有安排' });
    expect(ok).toMatchObject({ ok: true, nextState: 'returned' });
    if (ok.ok)
      expect(ok.effects.map((e) => e.name)).toEqual([
        'refundEscrow',
        'revokeGrants',
        'countReturn',
        'rollUpParent',
        'notify',
      ]);
  });

  it('handoff: actors and guards', () => {
    const pending = instance('pending_acceptance');
    expect(evaluate(handoff, pending, ownerLeader, 'accept', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
    expect(evaluate(handoff, pending, assigneeStaff, 'accept', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
    const unfunded = instance('pending_acceptance', { facts: { escrowBalanceFen: 0, missingPowers: [] } });
    expect(evaluate(handoff, unfunded, assigneeLeader, 'accept', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'GUARD_FAILED', guard: 'fundsAttached', reason: 'GUARD_FAILED:fundsAttached' },
    });
    const unpowered = instance('pending_acceptance', { facts: { escrowBalanceFen: 5, missingPowers: ['P-1'] } });
    expect(evaluate(handoff, unpowered, assigneeLeader, 'accept', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { reason: 'GUARD_FAILED:powersCover' },
    });
    const openChild = instance('in_progress', { facts: { openChildren: 2 } });
    expect(evaluate(handoff, openChild, assigneeLeader, 'submit', { summary: 's' }, NOW)).toMatchObject({
      ok: false,
      refusal: { reason: 'GUARD_FAILED:childrenClosed' },
    });
    // urge: owner or the owner's superior; the state does not change and no timer is touched
    for (const who of [ownerLeader, superiorLeader]) {
      expect(evaluate(handoff, instance('in_progress'), who, 'urge', {}, NOW)).toMatchObject({
        ok: true,
        nextState: 'in_progress',
        stateChanged: false,
        timers: { start: [], cancel: [] },
      });
    }
    expect(evaluate(handoff, instance('in_progress'), assigneeLeader, 'urge', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
    // withdraw only before acceptance
    expect(evaluate(handoff, instance('in_progress'), ownerLeader, 'withdraw', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'ACTION_NOT_AVAILABLE' },
    });
  });

  it('handoff: extension request, approval moves the due time and restarts deadline timers', () => {
    const newDue = '2025-03-21T08:00:00.000Z';
    expect(
      evaluate(
        handoff,
        instance('in_progress'),
        assigneeLeader,
        'request-extension',
        { dueAt: 'tomorrow', reason: 'r' },
        NOW,
      ),
    ).toMatchObject({ ok: false, refusal: { code: 'PAYLOAD_INVALID' } });
    expect(
      evaluate(
        handoff,
        instance('in_progress'),
        assigneeLeader,
        'request-extension',
        { dueAt: newDue, reason: '雨季' },
        NOW,
      ),
    ).toMatchObject({ ok: true, nextState: 'in_progress' });
    expect(evaluate(handoff, instance('in_progress'), ownerLeader, 'approve-extension', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { reason: 'GUARD_FAILED:extensionPending' },
    });
    const pending = instance('in_progress', { facts: { pendingExtensionDueAt: newDue } });
    const r = evaluate(handoff, pending, ownerLeader, 'approve-extension', {}, NOW);
    expect(r).toMatchObject({
      ok: true,
      nextState: 'in_progress',
      effects: [{ name: 'extendDue', params: { dueAt: newDue } }, { name: 'notify' }],
      timers: {
        cancel: ['progress-reminder', 'due-in-one-working-day', 'deadline-escalation'],
        start: [
          { timerId: 'progress-reminder', dueAt: '2025-03-17T08:00:00.000Z' },
          { timerId: 'due-in-one-working-day', dueAt: '2025-03-20T08:00:00.000Z', workingDays: { from: newDue, days: -1 } },
          { timerId: 'deadline-escalation', dueAt: newDue },
        ],
      },
    });
    expect(evaluate(handoff, pending, ownerLeader, 'deny-extension', {}, NOW)).toMatchObject({ ok: true });
  });

  it('working-day timers: an estimate with the schedule the shell resolves; none inside the window', () => {
    // entering in_progress less than a day before the due time: the before-deadline reminder's moment has passed
    const late = instance('pending_acceptance', { dueAt: '2025-03-01T20:00:00.000Z' });
    const accepted = evaluate(handoff, late, assigneeLeader, 'accept', {}, NOW);
    expect(accepted.ok && accepted.timers.start.map((t) => t.timerId)).toEqual(['progress-reminder', 'deadline-escalation']);
    expect(evaluateTimer(handoff, instance('in_progress'), 'due-in-one-working-day', NOW)).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { to: 'assignee', template: 'task.due_next_working_day' } }],
    });
    expect(evaluateTimer(handoff, instance('pending_acceptance'), 'acceptance-escalation', NOW)).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { to: 'ownerSuperior', level: 1, template: 'task.acceptance_overdue' } }],
    });
  });

  it('handoff timers fire as reminders and escalations', () => {
    expect(evaluateTimer(handoff, instance('pending_acceptance'), 'acceptance-reminder', NOW)).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { to: 'assignee', template: 'task.acceptance_reminder' } }],
    });
    expect(evaluateTimer(handoff, instance('in_progress'), 'deadline-escalation', NOW)).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { to: 'ownerSuperior', level: 1 } }],
    });
    expect(evaluateTimer(handoff, instance('in_progress'), 'acceptance-reminder', NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'TIMER_STALE' },
    });
  });

  it('approval-countersign: three leaders must all approve', () => {
    const directory = {
      'leader:assignee': ['u-street-leader'],
      'leader:owner': ['u-owner-leader'],
      'leader:ownerSuperior': ['u-district-leader'],
    };
    const sub = evaluate(countersign, instance('draft'), assigneeStaff, 'submit', { summary: '采购' }, NOW, directory);
    expect(sub).toMatchObject({ ok: true, nextState: 'countersign' });
    if (!sub.ok) return;
    expect(sub.approval?.slots.map((s) => s.userId)).toEqual([
      'u-street-leader',
      'u-owner-leader',
      'u-district-leader',
    ]);
    let inst = instance('countersign', { approval: sub.approval });
    for (const [i, who] of [assigneeLeader, ownerLeader].entries()) {
      const r = evaluate(countersign, inst, who, 'approve', {}, NOW, directory);
      expect(r).toMatchObject({ ok: true, nextState: 'countersign' });
      if (!r.ok) return;
      expect(r.approval?.slots.filter((s) => s.status === 'approved')).toHaveLength(i + 1);
      inst = instance('countersign', { approval: r.approval });
    }
    const last = evaluate(countersign, inst, superiorLeader, 'approve', {}, NOW, directory);
    expect(last).toMatchObject({
      ok: true,
      nextState: 'approved',
      final: true,
      approval: null,
      concludedApproval: { outcome: 'approved' },
      effects: [{ name: 'notify', params: { template: 'approval.approved' } }],
      timers: { cancel: ['countersign-reminder'] },
    });
    // nobody can take the engine-only action by hand
    expect(evaluate(countersign, inst, superiorLeader, 'finalize', {}, NOW, directory)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
  });
});

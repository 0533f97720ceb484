import { describe, it, expect } from '@jest/globals';
import type { ApprovalStepConfig, EvaluationResult, InstanceSnapshot, WorkflowDefinition } from './index.js';
import { evaluate, evaluateTimer, requiredApprovals } from './index.js';
import { NOW, approvalFlow, approver, assigneeStaff, instance } from './__fixtures__/fixtures.js';

type Step = [userId: string, op: string, payload?: Record<string, unknown>];

/** Submits into the approval state, then applies the steps; returns every result and the last instance. */
function run(def: WorkflowDefinition, steps: Step[], directory?: Record<string, string[]>) {
  const sub = evaluate(def, instance('draft'), assigneeStaff, 'submit', {}, NOW, directory);
  if (!sub.ok) throw new Error(`submit refused: ${sub.refusal.code}`);
  let inst: InstanceSnapshot = instance(sub.nextState, { approval: sub.approval });
  const results: EvaluationResult[] = [];
  for (const [userId, op, payload] of steps) {
    const r = evaluate(def, inst, approver(userId), op, payload ?? {}, NOW, directory);
    results.push(r);
    if (r.ok) inst = instance(r.nextState, { approval: r.approval });
  }
  return { submit: sub, results, last: results[results.length - 1], inst };
}

const users = (...ids: string[]) => ids.map((userId) => ({ userId }));
const flow = (mode: ApprovalStepConfig['mode'], ids: string[], ratio?: number) =>
  approvalFlow({ mode, approvers: users(...ids), ...(ratio === undefined ? {} : { ratio }) });

describe('approval: entering the step', () => {
  it('initialises the approval, notifies the approvers and starts the state timers', () => {
    const { submit } = run(flow('all', ['a', 'b', 'c']), []);
    expect(submit).toMatchObject({
      ok: true,
      nextState: 'review',
      effects: [
        { name: 'notify', params: { to: 'approvers', template: 'approval.requested', userIds: ['a', 'b', 'c'] } },
      ],
      timers: { start: [{ timerId: 'review-reminder', dueAt: '2025-03-01T12:00:00.000Z' }] },
      approval: {
        state: 'review',
        mode: 'all',
        outcome: 'pending',
        initiator: { userId: assigneeStaff.userId, state: 'draft' },
        enteredFrom: 'draft',
        slots: [
          { userId: 'a', status: 'pending' },
          { userId: 'b', status: 'pending' },
          { userId: 'c', status: 'pending' },
        ],
      },
    });
  });

  it('resolves role+relation approvers through the directory snapshot, deduplicated, in order', () => {
    const def = approvalFlow({
      mode: 'all',
      approvers: [
        { role: 'leader', relation: 'owner' },
        { userId: 'x' },
        { role: 'leader', relation: 'ownerSuperior' },
      ],
    });
    const { submit } = run(def, [], { 'leader:owner': ['o1', 'x'], 'leader:ownerSuperior': ['s1', 'o1'] });
    expect(submit.ok && submit.approval?.slots.map((s) => s.userId)).toEqual(['o1', 'x', 's1']);
    // a directory object works too
    const sub = evaluate(def, instance('draft'), assigneeStaff, 'submit', {}, NOW, {
      usersWith: (role, relation) => [`${role}@${relation}`],
    });
    expect(sub.ok && sub.approval?.slots.map((s) => s.userId)).toEqual(['leader@owner', 'x', 'leader@ownerSuperior']);
  });

  it('refuses to enter when no approver can be resolved', () => {
    const def = approvalFlow({ mode: 'any', approvers: [{ role: 'leader', relation: 'ownerSuperior' }] });
    expect(evaluate(def, instance('draft'), assigneeStaff, 'submit', {}, NOW, {})).toMatchObject({
      ok: false,
      refusal: { code: 'APPROVAL_NO_APPROVERS' },
    });
  });
});

describe('approval modes', () => {
  it('all (会签): needs every one of three approvals', () => {
    const def = flow('all', ['a', 'b', 'c']);
    const { results } = run(def, [
      ['a', 'approve'],
      ['b', 'approve'],
      ['c', 'approve'],
    ]);
    expect(results.map((r) => r.ok && r.nextState)).toEqual(['review', 'review', 'approved']);
    expect(results[2]).toMatchObject({
      approval: null,
      concludedApproval: { outcome: 'approved' },
      timers: { cancel: ['review-reminder'] },
    });
    const rejected = run(def, [
      ['a', 'approve'],
      ['b', 'reject', { comment: '预算不足' }],
    ]);
    expect(rejected.last).toMatchObject({
      ok: true,
      nextState: 'rejected',
      concludedApproval: {
        outcome: 'rejected',
        slots: [{ status: 'approved' }, { status: 'rejected', comment: '预算不足' }, { status: 'pending' }],
      },
    });
  });

  it('any (或签): the first approval passes; all must reject to reject', () => {
    const def = flow('any', ['a', 'b', 'c']);
    expect(run(def, [['b', 'approve']]).last).toMatchObject({ ok: true, nextState: 'approved' });
    const r = run(def, [
      ['a', 'reject'],
      ['b', 'reject'],
      ['c', 'reject'],
    ]);
    expect(r.results.map((x) => x.ok && x.nextState)).toEqual(['review', 'review', 'rejected']);
  });

  it('ratio 2/3: passes at 2 approvals, fails as soon as 2 reject', () => {
    const def = flow('ratio', ['a', 'b', 'c'], 2 / 3);
    expect(requiredApprovals(2 / 3, 3)).toBe(2);
    const pass = run(def, [
      ['a', 'approve'],
      ['c', 'reject'],
      ['b', 'approve'],
    ]);
    expect(pass.results.map((x) => x.ok && x.nextState)).toEqual(['review', 'review', 'approved']);
    const fail = run(def, [
      ['a', 'reject'],
      ['b', 'reject'],
    ]);
    expect(fail.results.map((x) => x.ok && x.nextState)).toEqual(['review', 'rejected']);
  });

  it('single: one decision decides', () => {
    expect(run(flow('single', ['a']), [['a', 'reject']]).last).toMatchObject({ nextState: 'rejected' });
    expect(run(flow('single', ['a']), [['a', 'approve']]).last).toMatchObject({ nextState: 'approved' });
  });

  it('sequential: approvers act one by one, in order; any reject rejects', () => {
    const def = flow('sequential', ['a', 'b', 'c']);
    const { results, submit } = run(def, [
      ['b', 'approve'],
      ['a', 'approve'],
      ['c', 'approve'],
      ['b', 'approve'],
      ['c', 'approve'],
    ]);
    expect(submit).toMatchObject({ effects: [{ params: { userIds: ['a'] } }] });
    expect(results[0]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(results[1]).toMatchObject({ ok: true, nextState: 'review', effects: [{ params: { userIds: ['b'] } }] });
    expect(results[2]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(results[3]).toMatchObject({ ok: true, nextState: 'review' });
    expect(results[4]).toMatchObject({ ok: true, nextState: 'approved' });
    expect(
      run(def, [
        ['a', 'approve'],
        ['b', 'reject'],
      ]).last,
    ).toMatchObject({ nextState: 'rejected' });
  });

  it('onApproved may name an action: the engine performs it (effects, guards)', () => {
    const def = structuredClone(flow('any', ['a']));
    def.states[1].approval!.onApproved = 'publish';
    def.actions.push({
      id: 'publish',
      from: ['review'],
      to: 'approved',
      actors: [],
      guards: [{ name: 'fundsAttached' }],
      effects: [{ name: 'settleEscrow' }],
    });
    const { last } = run(def, [['a', 'approve']]);
    expect(last).toMatchObject({
      ok: true,
      kind: 'approval',
      action: 'approve',
      nextState: 'approved',
      effects: [{ name: 'settleEscrow' }],
      concludedApproval: { outcome: 'approved' },
    });
  });
});

describe('approval refusals', () => {
  const def = flow('all', ['a', 'b']);

  it('NOT_PENDING for a non-approver, a second decision, or no approval in progress', () => {
    const r = run(def, [
      ['z', 'approve'],
      ['a', 'approve'],
      ['a', 'reject'],
    ]);
    expect(r.results[0]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_PENDING' } });
    expect(r.results[2]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_PENDING' } });
    expect(evaluate(def, instance('review'), approver('a'), 'approve', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'APPROVAL_NOT_PENDING' },
    });
  });

  it('PAYLOAD_INVALID for malformed operation payloads', () => {
    const r = run(def, [
      ['a', 'transfer', {}],
      ['a', 'addApprover', { userId: 'q', position: 'beside' }],
      ['a', 'approve', { comment: 5 }],
    ]);
    for (const x of r.results) expect(x).toMatchObject({ ok: false, refusal: { code: 'PAYLOAD_INVALID' } });
  });
});

describe('transfer (转办)', () => {
  it('hands my pending approval to another user, who then decides in my place', () => {
    const def = flow('sequential', ['a', 'b']);
    const r = run(def, [
      ['a', 'transfer', { toUserId: 't', comment: '出差' }],
      ['a', 'approve'],
      ['b', 'approve'],
      ['t', 'approve'],
      ['b', 'approve'],
    ]);
    expect(r.results[0]).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { userIds: ['t'] } }],
      approval: {
        slots: [
          { userId: 'a', status: 'transferred', transferredTo: 't' },
          { userId: 't', status: 'pending', transferredFrom: 'a' },
          { userId: 'b', status: 'pending' },
        ],
      },
    });
    expect(r.results[1]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_PENDING' } });
    expect(r.results[2]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(r.results[3]).toMatchObject({ ok: true, nextState: 'review' });
    expect(r.results[4]).toMatchObject({ ok: true, nextState: 'approved' });
  });

  it('refuses a transfer to oneself or to someone already approving', () => {
    const r = run(flow('all', ['a', 'b']), [
      ['a', 'transfer', { toUserId: 'a' }],
      ['a', 'transfer', { toUserId: 'b' }],
    ]);
    for (const x of r.results) expect(x).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_INVALID_OPERATION' } });
  });
});

describe('addApprover (加签)', () => {
  it('before me: the added approver decides first, then it is my turn again', () => {
    const r = run(flow('sequential', ['a', 'b']), [
      ['a', 'addApprover', { userId: 'x', position: 'before' }],
      ['a', 'approve'],
      ['x', 'approve'],
      ['a', 'approve'],
      ['b', 'approve'],
    ]);
    expect(r.results[0]).toMatchObject({
      ok: true,
      effects: [{ name: 'notify', params: { userIds: ['x'] } }],
      approval: { slots: [{ userId: 'x', addedBy: 'a' }, { userId: 'a', waitsFor: 'x' }, { userId: 'b' }] },
    });
    expect(r.results[1]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(r.results.slice(2).map((x) => x.ok && x.nextState)).toEqual(['review', 'review', 'approved']);
  });

  it('after me: the added approver decides after me, also in a parallel (all) step', () => {
    const r = run(flow('all', ['a', 'b']), [
      ['a', 'addApprover', { userId: 'x', position: 'after' }],
      ['x', 'approve'],
      ['b', 'approve'],
      ['a', 'approve'],
      ['x', 'approve'],
    ]);
    expect(r.results[0]).toMatchObject({ ok: true, effects: [] });
    expect(r.results[1]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(r.results[3]).toMatchObject({ ok: true, nextState: 'review', effects: [{ params: { userIds: ['x'] } }] });
    expect(r.results[4]).toMatchObject({
      ok: true,
      nextState: 'approved',
      concludedApproval: { slots: { length: 3 } },
    });
  });

  it('refuses adding an existing approver, and adding to a single step', () => {
    expect(run(flow('all', ['a', 'b']), [['a', 'addApprover', { userId: 'b', position: 'after' }]]).last).toMatchObject(
      {
        refusal: { code: 'APPROVAL_INVALID_OPERATION' },
      },
    );
    expect(run(flow('single', ['a']), [['a', 'addApprover', { userId: 'x', position: 'after' }]]).last).toMatchObject({
      refusal: { code: 'APPROVAL_INVALID_OPERATION' },
    });
  });
});

describe('withdraw (撤回)', () => {
  const def = flow('sequential', ['a', 'b', 'c']);

  it('is allowed before the next approver has acted', () => {
    const r = run(def, [
      ['a', 'approve'],
      ['a', 'withdraw'],
      ['b', 'approve'],
      ['a', 'reject'],
    ]);
    expect(r.results[1]).toMatchObject({
      ok: true,
      nextState: 'review',
      approval: { slots: [{ userId: 'a', status: 'pending' }, { status: 'pending' }, { status: 'pending' }] },
    });
    expect(r.results[2]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(r.results[3]).toMatchObject({ ok: true, nextState: 'rejected' });
  });

  it('is refused once the next approver has acted, and for anyone but the last actor', () => {
    const r = run(def, [
      ['a', 'approve'],
      ['b', 'withdraw'],
      ['b', 'approve'],
      ['a', 'withdraw'],
      ['b', 'withdraw'],
    ]);
    expect(r.results[1]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_WITHDRAW_NOT_ALLOWED' } });
    expect(r.results[3]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_WITHDRAW_NOT_ALLOWED' } });
    expect(r.results[4]).toMatchObject({
      ok: true,
      approval: { slots: [{ status: 'approved' }, { status: 'pending' }, {}] },
    });
  });

  it('works in parallel steps too (withdrawing a rejection in an any-of step)', () => {
    const r = run(flow('any', ['a', 'b']), [
      ['a', 'reject'],
      ['a', 'withdraw'],
      ['b', 'reject'],
      ['a', 'approve'],
    ]);
    expect(r.results.map((x) => x.ok && x.nextState)).toEqual(['review', 'review', 'review', 'approved']);
  });
});

describe('returnTo (退回)', () => {
  it('previous, in a sequential step: back to the previous approver', () => {
    const r = run(flow('sequential', ['a', 'b']), [
      ['a', 'approve'],
      ['b', 'returnTo', { target: 'previous', comment: '补材料' }],
      ['b', 'approve'],
      ['a', 'approve'],
      ['b', 'approve'],
    ]);
    expect(r.results[1]).toMatchObject({
      ok: true,
      nextState: 'review',
      effects: [{ name: 'notify', params: { userIds: ['a'] } }],
      approval: {
        slots: [
          { userId: 'a', status: 'pending' },
          { userId: 'b', status: 'pending' },
        ],
      },
    });
    expect(r.results[2]).toMatchObject({ ok: false, refusal: { code: 'APPROVAL_NOT_YOUR_TURN' } });
    expect(r.results.slice(3).map((x) => x.ok && x.nextState)).toEqual(['review', 'approved']);
  });

  it('previous, with no previous approver: back to the previous state', () => {
    const r = run(flow('all', ['a', 'b']), [['b', 'returnTo', { target: 'previous' }]]);
    expect(r.last).toMatchObject({
      ok: true,
      nextState: 'draft',
      approval: null,
      concludedApproval: { outcome: 'returned' },
      timers: { cancel: ['review-reminder'] },
    });
  });

  it('initiator: back to the state the approval chain started from, notifying the initiator', () => {
    const def = structuredClone(flow('single', ['a']));
    // a second approval step chained after the first one
    def.states.splice(2, 0, {
      id: 'review2',
      approval: { mode: 'single', approvers: [{ userId: 'b' }], onApproved: 'approved', onRejected: 'rejected' },
    });
    def.states[1].approval!.onApproved = 'review2';
    const r = run(def, [
      ['a', 'approve'],
      ['b', 'returnTo', { target: 'initiator' }],
    ]);
    expect(r.results[0]).toMatchObject({
      ok: true,
      nextState: 'review2',
      approval: {
        state: 'review2',
        enteredFrom: 'review',
        initiator: { userId: assigneeStaff.userId, state: 'draft' },
      },
    });
    expect(r.results[1]).toMatchObject({
      ok: true,
      nextState: 'draft',
      effects: [{ name: 'notify', params: { to: 'initiator', userIds: [assigneeStaff.userId] } }],
    });
    // "previous" from review2 goes back to review, re-opening its approval
    const back = run(def, [
      ['a', 'approve'],
      ['b', 'returnTo', { target: 'previous' }],
    ]);
    expect(back.last).toMatchObject({
      ok: true,
      nextState: 'review',
      approval: { state: 'review', outcome: 'pending' },
    });
  });
});

describe('approval timers', () => {
  it('a reminder in an approval state goes to the approvers whose turn it is', () => {
    const def = flow('sequential', ['a', 'b']);
    const { inst } = run(def, [['a', 'approve']]);
    expect(evaluateTimer(def, inst, 'review-reminder', NOW)).toMatchObject({
      ok: true,
      nextState: 'review',
      effects: [{ name: 'notify', params: { to: 'approvers', template: 'timer.remind', userIds: ['b'] } }],
      approval: inst.approval,
    });
  });
});

import { describe, it, expect } from '@jest/globals';
import type { ActionDef, InstanceSnapshot, WorkflowDefinition } from './index.js';
import {
  DefinitionInvalidError,
  SYSTEM_ACTOR,
  availableActions,
  compile,
  evaluate,
  evaluateTimer,
  isFinal,
  listBuildingBlocks,
  refusalReason,
  startInstance,
} from './index.js';
import {
  NOW,
  OWNER_PARENT,
  actor,
  approvalFlow,
  assigneeLeader,
  assigneeStaff,
  instance,
  ownerLeader,
  stranger,
  superiorLeader,
  threeStep,
} from './__fixtures__/fixtures.js';

function withAction(extra: Partial<ActionDef>, def: WorkflowDefinition = threeStep()): WorkflowDefinition {
  const d = structuredClone(def);
  d.actions[0] = { ...d.actions[0], ...extra };
  return d;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

describe('evaluate: transitions', () => {
  const def = threeStep();

  it('walks start → step1 → step2 → done', () => {
    let inst = instance('start');
    for (const [action, next] of [
      ['go1', 'step1'],
      ['go2', 'step2'],
      ['finish', 'done'],
    ]) {
      const r = evaluate(def, inst, assigneeStaff, action, {}, NOW);
      expect(r).toEqual({
        ok: true,
        kind: 'transition',
        action,
        fromState: inst.state,
        nextState: next,
        stateChanged: true,
        final: next === 'done',
        effects: [],
        timers: { start: [], cancel: [] },
        approval: null,
      });
      inst = { ...inst, state: next };
    }
    expect(isFinal(def, 'done')).toBe(true);
    expect(isFinal(def, 'step1')).toBe(false);
  });

  it('is deterministic and does not modify its inputs', () => {
    const inst = deepFreeze(instance('start'));
    const payload = deepFreeze({});
    const a = evaluate(def, inst, assigneeStaff, 'go1', payload, NOW);
    const b = evaluate(def, inst, assigneeStaff, 'go1', payload, new Date(NOW));
    expect(a).toEqual(b);
  });

  it('compiles once per definition object and refuses to compile an invalid one', () => {
    expect(compile(def)).toBe(compile(def));
    const bad = withAction({ to: 'nowhere' });
    expect(() => evaluate(bad, instance('start'), assigneeStaff, 'go1', {}, NOW)).toThrow(DefinitionInvalidError);
  });

  it('returns effect descriptors in order, with params copied', () => {
    const d = withAction({
      effects: [
        { name: 'notify', params: { to: 'owner', template: 'x' } },
        { name: 'setProgress', params: { percent: 10 } },
        { name: 'rollUpParent' },
      ],
    });
    const r = evaluate(d, instance('start'), assigneeStaff, 'go1', {}, NOW);
    expect(r).toMatchObject({
      ok: true,
      effects: [
        { name: 'notify', params: { to: 'owner', template: 'x' } },
        { name: 'setProgress', params: { percent: 10 } },
        { name: 'rollUpParent', params: {} },
      ],
    });
    if (r.ok) expect(r.effects[0].params).not.toBe(d.actions[0].effects?.[0].params);
  });
});

describe('evaluate: refusals', () => {
  const def = threeStep();

  it('UNKNOWN_STATE when the instance is in a state the definition lacks', () => {
    expect(evaluate(def, instance('nowhere'), assigneeStaff, 'go1', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'UNKNOWN_STATE', reason: 'UNKNOWN_STATE' },
    });
  });

  it('ACTION_NOT_AVAILABLE for an unknown action, the wrong state, or a final state', () => {
    for (const [state, action] of [
      ['start', 'fly'],
      ['start', 'go2'],
      ['done', 'finish'],
    ]) {
      expect(evaluate(def, instance(state), assigneeStaff, action, {}, NOW)).toMatchObject({
        ok: false,
        refusal: { code: 'ACTION_NOT_AVAILABLE' },
      });
    }
  });

  it('NOT_PERMITTED for the wrong role or the wrong relation', () => {
    expect(evaluate(def, instance('start'), assigneeLeader, 'go1', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
    expect(evaluate(def, instance('start'), actor('x', 'street-9', 'staff'), 'go1', {}, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'NOT_PERMITTED' },
    });
  });

  it('relations: owner, assignee, ownerSuperior, aboveAssignee (strict), any', () => {
    const can = (relation: string, who: ReturnType<typeof actor>, inst: InstanceSnapshot = instance('start')) =>
      evaluate(withAction({ actors: [{ role: 'leader', relation: relation as 'owner' }] }), inst, who, 'go1', {}, NOW)
        .ok;
    expect(can('owner', ownerLeader)).toBe(true);
    expect(can('owner', assigneeLeader)).toBe(false);
    expect(can('assignee', assigneeLeader)).toBe(true);
    expect(can('assignee', ownerLeader)).toBe(false);
    expect(can('ownerSuperior', superiorLeader)).toBe(true);
    expect(can('ownerSuperior', ownerLeader)).toBe(false);
    expect(can('ownerSuperior', superiorLeader, instance('start', { ownerParentOrgUnitId: null }))).toBe(false);
    const deep = instance('start', { assigneeAncestorIds: [OWNER_PARENT, 'street-1'], assigneeOrgUnitId: 'grid-7' });
    expect(can('aboveAssignee', actor('s', 'street-1', 'leader'), deep)).toBe(true);
    expect(can('aboveAssignee', actor('d', OWNER_PARENT, 'leader'), deep)).toBe(true);
    expect(can('aboveAssignee', actor('g', 'grid-7', 'leader'), deep)).toBe(false);
    expect(can('aboveAssignee', assigneeLeader)).toBe(false);
    expect(can('any', stranger)).toBe(true);
    expect(can('any', actor('x', 'y', 'staff'))).toBe(false);
  });

  it('PAYLOAD_INVALID against the payload schema, or for a non-object payload', () => {
    const d = withAction({
      payloadSchema: {
        type: 'object',
        required: ['percent'],
        properties: { percent: { type: 'integer', minimum: 0, maximum: 100 } },
      },
    });
    const r = evaluate(d, instance('start'), assigneeStaff, 'go1', { percent: 101 }, NOW);
    expect(r).toMatchObject({ ok: false, refusal: { code: 'PAYLOAD_INVALID', details: [{ path: '/percent' }] } });
    expect(evaluate(d, instance('start'), assigneeStaff, 'go1', undefined, NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'PAYLOAD_INVALID' },
    });
    expect(evaluate(d, instance('start'), assigneeStaff, 'go1', { percent: 50 }, NOW).ok).toBe(true);
    expect(evaluate(def, instance('start'), assigneeStaff, 'go1', [1], NOW)).toMatchObject({
      ok: false,
      refusal: { code: 'PAYLOAD_INVALID' },
    });
  });

  it('GUARD_FAILED names the guard; its string form is GUARD_FAILED:<name>', () => {
    const cases: [string, Record<string, unknown> | undefined, Partial<InstanceSnapshot>, unknown, boolean][] = [
      ['fundsAttached', undefined, { facts: { escrowBalanceFen: 0 } }, {}, false],
      ['fundsAttached', undefined, { facts: { escrowBalanceFen: 1 } }, {}, true],
      ['powersCover', undefined, { facts: { missingPowers: ['CMD_CREW'] } }, {}, false],
      ['powersCover', undefined, { facts: {} }, {}, false],
      ['childrenClosed', undefined, { facts: { openChildren: 1 } }, {}, false],
      ['childrenClosed', undefined, { facts: { openChildren: 0 } }, {}, true],
      ['payloadHas', { field: 'evidence' }, {}, { evidence: '' }, false],
      ['payloadHas', { field: 'evidence' }, {}, { evidence: 'photo.jpg' }, true],
      ['progressAtLeast', { percent: 50 }, { facts: { progress: 49 } }, {}, false],
      ['progressAtLeast', { percent: 50 }, { facts: { progress: 50 } }, {}, true],
      ['notOverdue', undefined, { dueAt: '2025-03-01T07:59:59.000Z' }, {}, false],
      ['notOverdue', undefined, { dueAt: '2025-03-01T08:00:00.000Z' }, {}, true],
      ['notOverdue', undefined, { dueAt: null }, {}, true],
    ];
    for (const [name, params, over, payload, passes] of cases) {
      const d = withAction({ guards: [{ name, ...(params ? { params } : {}) }] });
      const r = evaluate(d, instance('start', over), assigneeStaff, 'go1', payload, NOW);
      if (passes) expect(r.ok).toBe(true);
      else {
        expect(r).toMatchObject({
          ok: false,
          refusal: { code: 'GUARD_FAILED', guard: name, reason: `GUARD_FAILED:${name}` },
        });
        if (!r.ok) expect(refusalReason(r.refusal)).toBe(`GUARD_FAILED:${name}`);
      }
    }
  });

  it('checks in order: availability, permission, payload, guards', () => {
    const d = withAction({
      guards: [{ name: 'fundsAttached' }],
      payloadSchema: { type: 'object', required: ['x'] },
    });
    const broke = instance('start', { facts: { escrowBalanceFen: 0 } });
    expect(evaluate(d, broke, stranger, 'go1', {}, NOW)).toMatchObject({ refusal: { code: 'NOT_PERMITTED' } });
    expect(evaluate(d, broke, assigneeStaff, 'go1', {}, NOW)).toMatchObject({ refusal: { code: 'PAYLOAD_INVALID' } });
    expect(evaluate(d, broke, assigneeStaff, 'go1', { x: 1 }, NOW)).toMatchObject({
      refusal: { code: 'GUARD_FAILED' },
    });
  });
});

describe('timers', () => {
  const def: WorkflowDefinition = {
    ...threeStep(),
    timers: [
      { id: 'nudge', state: 'step1', after: 'P1DT12H', do: { kind: 'remind' } },
      { id: 'half', state: 'step1', atFraction: 0.5, do: { kind: 'remind' } },
      { id: 'deadline', state: 'step1', atDeadline: true, do: { kind: 'escalate', level: 2 } },
      { id: 'auto', state: 'step2', after: 'PT2H', do: { kind: 'action', action: 'finish' } },
    ],
  };

  it('starts the timers of the state entered, with fire times, and cancels those of the state left', () => {
    const r = evaluate(def, instance('start'), assigneeStaff, 'go1', {}, NOW);
    expect(r).toMatchObject({
      ok: true,
      timers: {
        cancel: [],
        start: [
          { timerId: 'nudge', state: 'step1', dueAt: '2025-03-02T20:00:00.000Z', do: { kind: 'remind' } },
          { timerId: 'half', dueAt: '2025-03-06T08:00:00.000Z' },
          { timerId: 'deadline', dueAt: '2025-03-11T08:00:00.000Z', do: { kind: 'escalate', level: 2 } },
        ],
      },
    });
    const r2 = evaluate(def, instance('step1'), assigneeStaff, 'go2', {}, NOW);
    expect(r2).toMatchObject({
      ok: true,
      timers: {
        cancel: ['nudge', 'half', 'deadline'],
        start: [{ timerId: 'auto', dueAt: '2025-03-01T10:00:00.000Z' }],
      },
    });
  });

  it('skips deadline-relative timers when the task has no due time', () => {
    const r = evaluate(def, instance('start', { dueAt: null }), assigneeStaff, 'go1', {}, NOW);
    expect(r.ok && r.timers.start.map((t) => t.timerId)).toEqual(['nudge']);
  });

  it('startTimer and cancelTimers effects are folded into the timer plan', () => {
    const d = structuredClone(def);
    d.actions.push({
      id: 'poke',
      from: ['step1'],
      actors: [{ role: 'staff', relation: 'assignee' }],
      effects: [{ name: 'startTimer', params: { timerId: 'nudge' } }],
    });
    d.actions.push({
      id: 'quiet',
      from: ['step1'],
      actors: [{ role: 'staff', relation: 'assignee' }],
      effects: [{ name: 'cancelTimers', params: { timerIds: ['half', 'deadline'] } }],
    });
    expect(evaluate(d, instance('step1'), assigneeStaff, 'poke', {}, NOW)).toMatchObject({
      ok: true,
      effects: [],
      timers: { cancel: ['nudge'], start: [{ timerId: 'nudge', dueAt: '2025-03-02T20:00:00.000Z' }] },
    });
    expect(evaluate(d, instance('step1'), assigneeStaff, 'quiet', {}, NOW)).toMatchObject({
      ok: true,
      effects: [],
      timers: { cancel: ['half', 'deadline'], start: [] },
    });
  });

  it('evaluateTimer: an action timer performs the action as the system; stale and unknown timers are refused', () => {
    const d = structuredClone(def);
    d.actions[2].actors = []; // finish: engine only
    expect(evaluate(d, instance('step2'), assigneeStaff, 'finish', {}, NOW)).toMatchObject({
      refusal: { code: 'NOT_PERMITTED' },
    });
    expect(evaluateTimer(d, instance('step2'), 'auto', NOW)).toMatchObject({
      ok: true,
      kind: 'timer',
      action: 'auto',
      nextState: 'done',
      final: true,
      timers: { cancel: ['auto'] },
    });
    expect(evaluateTimer(d, instance('step1'), 'auto', NOW)).toMatchObject({ refusal: { code: 'TIMER_STALE' } });
    expect(evaluateTimer(d, instance('step1'), 'nope', NOW)).toMatchObject({ refusal: { code: 'TIMER_UNKNOWN' } });
    expect(evaluateTimer(d, instance('step1'), 'deadline', NOW)).toMatchObject({
      ok: true,
      nextState: 'step1',
      effects: [{ name: 'notify', params: { to: 'ownerSuperior', level: 2, template: 'timer.escalate' } }],
    });
    expect(SYSTEM_ACTOR.userId).toBe('system');
  });

  it('startInstance enters the initial state by default', () => {
    const r = startInstance(def, instance('ignored'), assigneeStaff, NOW);
    expect(r).toMatchObject({ ok: true, kind: 'start', fromState: null, nextState: 'start', approval: null });
  });
});

describe('availableActions', () => {
  it('lists only the actions the actor may perform now', () => {
    const d = structuredClone(threeStep());
    d.actions.push(
      {
        id: 'fund',
        from: ['start'],
        to: 'step1',
        actors: [{ role: 'staff', relation: 'assignee' }],
        guards: [{ name: 'fundsAttached' }],
      },
      {
        id: 'evidence',
        label: 'With evidence',
        from: ['start'],
        to: 'step1',
        actors: [{ role: 'staff', relation: 'assignee' }],
        guards: [{ name: 'payloadHas', params: { field: 'photo' } }],
        payloadSchema: { type: 'object' },
      },
      {
        id: 'onTime',
        from: ['start'],
        to: 'step1',
        actors: [{ role: 'staff', relation: 'assignee' }],
        guards: [{ name: 'notOverdue' }],
      },
      { id: 'boss', from: ['start'], to: 'step1', actors: [{ role: 'leader', relation: 'owner' }] },
    );
    const broke = instance('start', { facts: { escrowBalanceFen: 0 }, dueAt: '2025-01-01T00:00:00.000Z' });
    expect(availableActions(d, broke, assigneeStaff).map((a) => a.id)).toEqual(['go1', 'evidence', 'onTime']);
    expect(availableActions(d, broke, assigneeStaff, undefined, NOW).map((a) => a.id)).toEqual(['go1', 'evidence']);
    expect(availableActions(d, broke, ownerLeader)).toEqual([
      { id: 'boss', label: 'boss', kind: 'transition', payloadSchema: null },
    ]);
    expect(availableActions(d, instance('start'), assigneeStaff).find((a) => a.id === 'evidence')).toEqual({
      id: 'evidence',
      label: 'With evidence',
      kind: 'transition',
      payloadSchema: { type: 'object' },
    });
    expect(availableActions(d, instance('done'), assigneeStaff)).toEqual([]);
  });

  it('lists approval operations for a pending approver', () => {
    const d = approvalFlow({ mode: 'sequential', approvers: [{ userId: 'a' }, { userId: 'b' }] });
    const sub = evaluate(d, instance('draft'), assigneeStaff, 'submit', {}, NOW);
    if (!sub.ok) throw new Error('submit refused');
    const inst = instance('review', { approval: sub.approval });
    const ops = (userId: string) =>
      availableActions(d, inst, actor(userId, `unit-${userId}`, 'leader')).map((a) => `${a.kind}:${a.id}`);
    expect(ops('a')).toEqual([
      'approval:approve',
      'approval:reject',
      'approval:transfer',
      'approval:addApprover',
      'approval:returnTo',
    ]);
    expect(ops('b')).toEqual([]);
    expect(availableActions(d, inst, ownerLeader).map((a) => a.id)).toEqual(['cancel']);
  });
});

describe('registry', () => {
  it('lists the shipped building blocks', () => {
    const blocks = listBuildingBlocks();
    const names = (kind: string) => blocks.filter((b) => b.kind === kind).map((b) => b.name);
    expect(names('guard')).toEqual(
      expect.arrayContaining([
        'fundsAttached',
        'powersCover',
        'childrenClosed',
        'payloadHas',
        'progressAtLeast',
        'notOverdue',
      ]),
    );
    expect(names('effect')).toEqual([
      'escrowFunds',
      'refundEscrow',
      'grantAuthority',
      'revokeGrants',
      'spawnChildren',
      'setProgress',
      'settleEscrow',
      'notify',
      'startTimer',
      'cancelTimers',
      'rollUpParent',
      'countReturn',
      'countRejection',
      'recordExtensionRequest',
      'clearExtensionRequest',
      'extendDue',
    ]);
    expect(blocks.every((b) => typeof b.paramsSchema === 'object')).toBe(true);
  });

  it('sets params of effects from the payload where documented', () => {
    const d = withAction({ effects: [{ name: 'setProgress' }] });
    expect(evaluate(d, instance('start'), assigneeStaff, 'go1', { percent: 30 }, NOW)).toMatchObject({
      effects: [{ name: 'setProgress', params: { percent: 30 } }],
    });
  });
});

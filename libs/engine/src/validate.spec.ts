import { describe, it, expect } from '@jest/globals';
import type { WorkflowDefinition } from './index.js';
import { WORKFLOW_DEFINITION_SCHEMA, validateDefinition } from './index.js';
import { approvalFlow, threeStep } from './__fixtures__/fixtures.js';

type Mutable = WorkflowDefinition & Record<string, unknown>;

function errorsOf(mutate: (d: Mutable) => void, base: () => WorkflowDefinition = threeStep) {
  const d = structuredClone(base()) as Mutable;
  mutate(d);
  return validateDefinition(d).errors;
}

function expectError(errors: { path: string; code: string }[], code: string, path: string) {
  expect(errors).toContainEqual(expect.objectContaining({ code, path }));
}

const staff = [{ role: 'staff' as const, relation: 'assignee' as const }];

describe('validateDefinition', () => {
  it('accepts a valid definition and exports its JSON Schema', () => {
    expect(validateDefinition(threeStep())).toEqual({ valid: true, errors: [] });
    expect(WORKFLOW_DEFINITION_SCHEMA).toMatchObject({
      type: 'object',
      required: ['key', 'name', 'states', 'actions'],
    });
  });

  it('SCHEMA: structural errors carry JSON-pointer paths', () => {
    const errors = errorsOf((d) => {
      delete (d as Partial<Mutable>).name;
      (d.actions[1] as unknown as Record<string, unknown>).to = 42;
      (d.actions[2].actors[0] as unknown as Record<string, unknown>).role = 'mayor';
      (d.states[0] as unknown as Record<string, unknown>).colour = 'red';
    });
    expect(errors.every((e) => e.code === 'SCHEMA')).toBe(true);
    expectError(errors, 'SCHEMA', '/name');
    expectError(errors, 'SCHEMA', '/actions/1/to');
    expectError(errors, 'SCHEMA', '/actions/2/actors/0/role');
    expectError(errors, 'SCHEMA', '/states/0/colour');
    expect(validateDefinition('not an object').errors[0]).toMatchObject({ code: 'SCHEMA', path: '' });
  });

  it('DUPLICATE_ID for states, actions and timers', () => {
    const errors = errorsOf((d) => {
      d.states.push({ id: 'step1' });
      d.actions.push({ id: 'go1', from: ['step1'], to: 'step2', actors: staff });
      d.timers = [
        { id: 't', state: 'step1', after: 'PT1H', do: { kind: 'remind' } },
        { id: 't', state: 'step1', after: 'PT2H', do: { kind: 'remind' } },
      ];
    });
    expectError(errors, 'DUPLICATE_ID', '/states/4/id');
    expectError(errors, 'DUPLICATE_ID', '/actions/3/id');
    expectError(errors, 'DUPLICATE_ID', '/timers/1/id');
  });

  it('UNKNOWN_STATE in from and to', () => {
    const errors = errorsOf((d) => {
      d.actions[1].from = ['step1', 'nowhere'];
      d.actions[2].to = 'limbo';
    });
    expectError(errors, 'UNKNOWN_STATE', '/actions/1/from/1');
    expectError(errors, 'UNKNOWN_STATE', '/actions/2/to');
  });

  it('NO_INITIAL_STATE and MULTIPLE_INITIAL_STATES', () => {
    expectError(
      errorsOf((d) => delete d.states[0].initial),
      'NO_INITIAL_STATE',
      '/states',
    );
    expectError(
      errorsOf((d) => (d.states[2].initial = true)),
      'MULTIPLE_INITIAL_STATES',
      '/states/2/initial',
    );
  });

  it('NO_FINAL_STATE', () => {
    expectError(
      errorsOf((d) => delete d.states[3].final),
      'NO_FINAL_STATE',
      '/states',
    );
  });

  it('UNREACHABLE_STATE, unless the state is an entry state', () => {
    const add = (d: Mutable) => {
      d.states.push({ id: 'island' });
      d.actions.push({ id: 'leave', from: ['island'], to: 'done', actors: staff });
    };
    const errors = errorsOf(add);
    expect(errors).toEqual([expect.objectContaining({ code: 'UNREACHABLE_STATE', path: '/states/4' })]);
    expect(
      errorsOf((d) => {
        add(d);
        d.states[4].entry = true;
      }),
    ).toEqual([]);
  });

  it('DEAD_END: a non-final state with no path to a final state; self-loops do not count either way', () => {
    const errors = errorsOf((d) => {
      d.states.push({ id: 'trap' });
      d.actions.push({ id: 'fall', from: ['step1'], to: 'trap', actors: staff });
      d.actions.push({ id: 'spin', from: ['trap'], actors: staff }); // a self-loop does not get you out
    });
    expect(errors).toEqual([expect.objectContaining({ code: 'DEAD_END', path: '/states/4' })]);
    // a self-loop on a state that does reach a final state is fine
    expect(errorsOf((d) => d.actions.push({ id: 'urge', from: ['start', 'step1'], actors: staff }))).toEqual([]);
  });

  it('ACTION_FROM_FINAL_STATE', () => {
    expectError(
      errorsOf((d) => d.actions.push({ id: 'reopen', from: ['done'], to: 'start', actors: staff })),
      'ACTION_FROM_FINAL_STATE',
      '/actions/3/from/0',
    );
  });

  it('UNKNOWN_GUARD, UNKNOWN_EFFECT and BAD_BLOCK_PARAMS', () => {
    const errors = errorsOf((d) => {
      d.actions[0].guards = [{ name: 'fundsAttached' }, { name: 'moonIsFull' }];
      d.actions[1].effects = [{ name: 'notify', params: { to: 'owner', template: 't' } }, { name: 'launchRocket' }];
      d.actions[2].guards = [{ name: 'progressAtLeast', params: { percent: 'lots' } }];
      d.actions[2].effects = [{ name: 'notify', params: { to: 'mayor' } }];
    });
    expectError(errors, 'UNKNOWN_GUARD', '/actions/0/guards/1/name');
    expectError(errors, 'UNKNOWN_EFFECT', '/actions/1/effects/1/name');
    expectError(errors, 'BAD_BLOCK_PARAMS', '/actions/2/guards/0/params');
    expectError(errors, 'BAD_BLOCK_PARAMS', '/actions/2/effects/0/params');
    expect(errors).toHaveLength(4);
  });

  it('BAD_BLOCK_PARAMS: startTimer must name a defined timer', () => {
    expectError(
      errorsOf((d) => (d.actions[0].effects = [{ name: 'startTimer', params: { timerId: 'ghost' } }])),
      'BAD_BLOCK_PARAMS',
      '/actions/0/effects/0/params',
    );
  });

  it('PAYLOAD_SCHEMA_INVALID when the payload schema does not compile', () => {
    expectError(
      errorsOf(
        (d) => (d.actions[1].payloadSchema = { type: 'object', properties: { n: { type: 'integer', minimum: 'x' } } }),
      ),
      'PAYLOAD_SCHEMA_INVALID',
      '/actions/1/payloadSchema',
    );
  });

  it('TIMER_UNKNOWN_STATE, TIMER_UNKNOWN_ACTION, TIMER_BAD_SCHEDULE', () => {
    const errors = errorsOf((d) => {
      d.timers = [
        { id: 'a', state: 'nowhere', after: 'PT1H', do: { kind: 'remind' } },
        { id: 'b', state: 'step1', after: 'PT1H', do: { kind: 'action', action: 'explode' } },
        { id: 'c', state: 'step1', after: 'PT1H', do: { kind: 'action', action: 'finish' } }, // not from step1
        { id: 'd', state: 'step1', do: { kind: 'remind' } },
        { id: 'e', state: 'step1', after: 'PT1H', atDeadline: true, do: { kind: 'remind' } },
        { id: 'f', state: 'step1', after: '2 hours', do: { kind: 'remind' } },
        { id: 'g', state: 'step1', atFraction: 1.5, do: { kind: 'remind' } },
        { id: 'h', state: 'step1', atFraction: 0.5, do: { kind: 'action', action: 'go2' } },
      ];
    });
    expectError(errors, 'TIMER_UNKNOWN_STATE', '/timers/0/state');
    expectError(errors, 'TIMER_UNKNOWN_ACTION', '/timers/1/do/action');
    expectError(errors, 'TIMER_UNKNOWN_ACTION', '/timers/2/do/action');
    expectError(errors, 'TIMER_BAD_SCHEDULE', '/timers/3');
    expectError(errors, 'TIMER_BAD_SCHEDULE', '/timers/4');
    expectError(errors, 'TIMER_BAD_SCHEDULE', '/timers/5/after');
    expectError(errors, 'TIMER_BAD_SCHEDULE', '/timers/6/atFraction');
    expect(errors).toHaveLength(7);
  });

  it('APPROVAL_NO_APPROVERS, APPROVAL_BAD_RATIO, APPROVAL_BAD_APPROVERS', () => {
    const approval = (over: object) =>
      validateDefinition(approvalFlow({ mode: 'all', approvers: [{ userId: 'a' }], ...over })).errors;
    expectError(approval({ approvers: [] }), 'APPROVAL_NO_APPROVERS', '/states/1/approval/approvers');
    expectError(approval({ mode: 'ratio' }), 'APPROVAL_BAD_RATIO', '/states/1/approval/ratio');
    expectError(approval({ mode: 'ratio', ratio: 0 }), 'APPROVAL_BAD_RATIO', '/states/1/approval/ratio');
    expectError(approval({ mode: 'ratio', ratio: 1.2 }), 'APPROVAL_BAD_RATIO', '/states/1/approval/ratio');
    expectError(approval({ mode: 'all', ratio: 0.5 }), 'APPROVAL_BAD_RATIO', '/states/1/approval/ratio');
    expect(approval({ mode: 'ratio', ratio: 2 / 3 })).toEqual([]);
    expectError(
      approval({ mode: 'single', approvers: [{ userId: 'a' }, { userId: 'b' }] }),
      'APPROVAL_BAD_APPROVERS',
      '/states/1/approval/approvers',
    );
  });

  it('APPROVAL_BAD_TARGET, APPROVAL_ON_FINAL_STATE, APPROVAL_ACTION_CONFLICT', () => {
    const approval = (over: object) =>
      validateDefinition(approvalFlow({ mode: 'all', approvers: [{ userId: 'a' }], ...over })).errors;
    expectError(approval({ onApproved: 'ghost' }), 'APPROVAL_BAD_TARGET', '/states/1/approval/onApproved');
    expectError(approval({ onApproved: 'submit' }), 'APPROVAL_BAD_TARGET', '/states/1/approval/onApproved'); // not from review
    expectError(approval({ onApproved: 'review' }), 'APPROVAL_BAD_TARGET', '/states/1/approval/onApproved');
    expectError(approval({ onRejected: 'cancel' }), 'APPROVAL_BAD_TARGET', '/states/1/approval/onRejected'); // an action
    // an action leaving the state is a valid target (here it makes "approved" unreachable, nothing else)
    expect(approval({ onApproved: 'cancel' }).map((e) => e.code)).toEqual(['UNREACHABLE_STATE']);

    const def = structuredClone(approvalFlow({ mode: 'all', approvers: [{ userId: 'a' }] }));
    def.states[2].approval = { mode: 'all', approvers: [{ userId: 'a' }], onApproved: 'draft', onRejected: 'draft' };
    def.actions.push({ id: 'approve', from: ['review'], to: 'approved', actors: staff });
    const errors = validateDefinition(def).errors;
    expectError(errors, 'APPROVAL_ON_FINAL_STATE', '/states/2/approval');
    expectError(errors, 'APPROVAL_ACTION_CONFLICT', '/actions/2/id');
  });

  it('reports every problem of a broken definition, not just the first', () => {
    const errors = errorsOf((d) => {
      d.actions[0].to = 'nowhere';
      d.actions[1].guards = [{ name: 'nope' }];
    });
    expect(errors.map((e) => e.code).sort()).toEqual(expect.arrayContaining(['UNKNOWN_GUARD', 'UNKNOWN_STATE']));
  });
});

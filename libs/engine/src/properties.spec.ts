/**
 * Property-based tests (fast-check): random action sequences by random actors over the shipped definitions and
 * over a random approval step. The oracle for approval outcomes is written independently of the engine.
 */
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import type {
  Actor,
  ApprovalMode,
  ApprovalSlot,
  EvaluationResult,
  InstanceSnapshot,
  WorkflowDefinition,
} from './index.js';
import {
  APPROVAL_OPERATIONS,
  EFFECTS,
  actionableUserIds,
  entryStates,
  evaluate,
  isApprovalOperation,
  isPermitted,
  startInstance,
} from './index.js';
import {
  NOW,
  actor,
  approvalFlow,
  assigneeLeader,
  assigneeStaff,
  gridWorker,
  instance,
  ownerLeader,
  ownerStaff,
  stranger,
  superiorLeader,
} from './__fixtures__/fixtures.js';

const load = createRequire(import.meta.url);
const SHIPPED: WorkflowDefinition[] = [
  load('../../../config/workflows/handoff.json') as WorkflowDefinition,
  load('../../../config/workflows/approval-countersign.json') as WorkflowDefinition,
];

const KNOWN_REFUSALS = new Set([
  'ACTION_NOT_AVAILABLE',
  'NOT_PERMITTED',
  'GUARD_FAILED',
  'PAYLOAD_INVALID',
  'APPROVAL_NOT_PENDING',
  'APPROVAL_NOT_YOUR_TURN',
  'APPROVAL_WITHDRAW_NOT_ALLOWED',
  'APPROVAL_INVALID_OPERATION',
  'APPROVAL_NO_APPROVERS',
]);

const LATER = '2025-03-20T08:00:00.000Z';
const PAYLOADS: Record<string, unknown>[] = [
  {},
  { percent: 50 },
  { percent: 150 },
  { summary: '完成' },
  { reasonCode: 'DUPLICATE' },
  { reasonCode: 'OTHER', comment: '另有安排' },
  { reasonCode: 'OTHER' },
  { reason: '不在清单' },
  { comment: '重做' },
  { terms: '街道牵头' },
  { dueAt: LATER, reason: '雨季' },
  { dueAt: LATER },
  { target: 'previous' },
  { target: 'initiator' },
  { toUserId: 'u-deputy' },
  { userId: 'u-expert', position: 'before' },
  { userId: 'u-expert', position: 'after' },
];
/** Payloads that are valid for an action (most steps use one of these, the rest draw from PAYLOADS). */
const VALID: Record<string, Record<string, unknown>[]> = {
  return: [{ reasonCode: 'DUPLICATE' }, { reasonCode: 'OTHER', comment: '另有安排' }],
  decline: [{ reason: '不在清单' }],
  'report-progress': [{ percent: 50 }, { percent: 100, note: 'ok' }],
  submit: [{ summary: '完成' }],
  reject: [{ comment: '重做' }, {}],
  'request-extension': [{ dueAt: LATER, reason: '雨季' }],
  transfer: [{ toUserId: 'u-deputy' }],
  addApprover: [
    { userId: 'u-expert', position: 'before' },
    { userId: 'u-expert', position: 'after' },
  ],
  returnTo: [{ target: 'previous' }, { target: 'initiator' }],
};

const ACTORS: Actor[] = [
  ownerLeader,
  ownerStaff,
  superiorLeader,
  assigneeLeader,
  assigneeStaff,
  gridWorker,
  stranger,
  actor('u-auditor', 'district', 'auditor'),
  actor('u-deputy', 'street-1', 'leader'),
  actor('u-expert', 'dept-x', 'leader'),
];
const DIRECTORY = {
  'leader:assignee': [assigneeLeader.userId],
  'leader:owner': [ownerLeader.userId],
  'leader:ownerSuperior': [superiorLeader.userId],
};

/** An actor of ACTORS who may perform `action` now, if any (chosen by `pick`). */
function pickActor(def: WorkflowDefinition, inst: InstanceSnapshot, action: string, pick: number): Actor | undefined {
  const a = def.actions.find((x) => x.id === action);
  const turn = inst.approval ? actionableUserIds(inst.approval) : [];
  const allowed = ACTORS.filter((who) =>
    a && !(inst.approval && isApprovalOperation(action)) ? isPermitted(a.actors, inst, who) : turn.includes(who.userId),
  );
  return allowed.length > 0 ? allowed[pick % allowed.length] : undefined;
}

const factsArb = fc.record({
  escrowBalanceFen: fc.constantFrom(0, 100_000),
  missingPowers: fc.constantFrom([], ['CMD_CREW']),
  openChildren: fc.constantFrom(0, 1),
  progress: fc.integer({ min: 0, max: 100 }),
  pendingExtensionDueAt: fc.constantFrom(null, LATER),
});

describe('properties: shipped definitions under random action sequences', () => {
  it.each(SHIPPED.map((d) => [d.key, d] as const))(
    '%s: never reaches an unknown state, never leaves a final state, keeps approval state consistent',
    (_key, def) => {
      const stateIds = new Set(def.states.map((s) => s.id));
      const finals = new Set(def.states.filter((s) => s.final).map((s) => s.id));
      const approvalStates = new Set(def.states.filter((s) => s.approval).map((s) => s.id));
      const actionIds = [...def.actions.map((a) => a.id), ...APPROVAL_OPERATIONS, 'fly'];
      const visited = new Set<string>();
      // Most steps pick an action leaving the current state (chosen when the step runs), a valid payload for it and
      // workable facts; one step in five picks any action, a random payload, random facts.
      const stepArb = fc.record({
        actor: fc.constantFrom(...ACTORS),
        pick: fc.nat(),
        pickActor: fc.nat(),
        pickPayload: fc.nat(),
        wild: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
        facts: factsArb,
      });
      const fromState = (state: string): string[] => [
        ...def.actions.filter((a) => a.from.includes(state)).map((a) => a.id),
        // approve is weighted up, or a countersign by several approvers would almost never complete
        ...(approvalStates.has(state) ? [...APPROVAL_OPERATIONS, 'approve', 'approve', 'approve', 'approve'] : []),
      ];
      const GOOD_FACTS = {
        escrowBalanceFen: 100,
        missingPowers: [],
        openChildren: 0,
        progress: 50,
        pendingExtensionDueAt: LATER,
      };
      fc.assert(
        fc.property(
          fc.constantFrom(...entryStates(def)),
          fc.array(stepArb, { maxLength: 40, size: 'max' }),
          (entry, steps) => {
            const start = startInstance(def, instance(entry), ownerLeader, NOW, {
              entryState: entry,
              directory: DIRECTORY,
            });
            expect(start.ok).toBe(true);
            if (!start.ok) return;
            let inst: InstanceSnapshot = instance(start.nextState, { approval: start.approval });
            visited.add(start.nextState);
            for (const step of steps) {
              const before = inst.state;
              const candidates = step.wild ? actionIds : fromState(before);
              if (candidates.length === 0) continue;
              const action = candidates[step.pick % candidates.length];
              const pool = step.wild ? PAYLOADS : (VALID[action] ?? [{}]);
              const payload = pool[step.pickPayload % pool.length];
              const facts = step.wild ? step.facts : GOOD_FACTS;
              // non-wild steps are taken by an actor allowed to (an approver whose turn it is, for approval operations)
              const who = step.wild ? step.actor : (pickActor(def, inst, action, step.pickActor) ?? step.actor);
              const r: EvaluationResult = evaluate(def, { ...inst, facts }, who, action, payload, NOW, DIRECTORY);
              if (!r.ok) {
                expect(KNOWN_REFUSALS.has(r.refusal.code)).toBe(true);
                continue;
              }
              expect(finals.has(before)).toBe(false);
              expect(stateIds.has(r.nextState)).toBe(true);
              expect(r.fromState).toBe(before);
              expect(r.final).toBe(finals.has(r.nextState));
              for (const e of r.effects) expect(EFFECTS.has(e.name)).toBe(true);
              for (const t of r.timers.start) expect(stateIds.has(t.state)).toBe(true);
              if (approvalStates.has(r.nextState)) {
                expect(r.approval).toMatchObject({ state: r.nextState, outcome: 'pending' });
              } else {
                expect(r.approval).toBeNull();
              }
              inst = { ...inst, state: r.nextState, approval: r.approval };
              visited.add(r.nextState);
            }
          },
        ),
        { numRuns: 300 },
      );
      // the walk is not vacuous: it reaches every state of the definition
      expect([...visited].sort()).toEqual([...stateIds].sort());
    },
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Approval semantics against an independent oracle

type Oracle = 'pending' | 'approved' | 'rejected';

/** Independent statement of the outcome rules; the ratio is p/q, computed in integers. */
function oracle(mode: ApprovalMode, p: number, q: number, slots: ApprovalSlot[]): Oracle {
  const active = slots.filter((s) => s.status !== 'transferred');
  const n = active.length;
  const yes = active.filter((s) => s.status === 'approved').length;
  const no = active.filter((s) => s.status === 'rejected').length;
  const open = n - yes - no;
  switch (mode) {
    case 'all':
    case 'sequential':
      return no > 0 ? 'rejected' : yes === n ? 'approved' : 'pending';
    case 'any':
      return yes > 0 ? 'approved' : no === n ? 'rejected' : 'pending';
    case 'single':
      return yes > 0 ? 'approved' : no > 0 ? 'rejected' : 'pending';
    case 'ratio': {
      const need = Math.max(1, Math.floor((p * n + q - 1) / q)); // ⌈p·n/q⌉
      return yes >= need ? 'approved' : yes + open < need ? 'rejected' : 'pending';
    }
  }
}

const POOL = ['u0', 'u1', 'u2', 'u3', 'u4', 'x0', 'x1', 'x2'];

const approvalCaseArb = fc
  .record({
    mode: fc.constantFrom<ApprovalMode>('single', 'all', 'any', 'sequential', 'ratio'),
    n: fc.integer({ min: 1, max: 5 }),
    q: fc.integer({ min: 1, max: 6 }),
    pSeed: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ mode, n, q, pSeed }) => ({ mode, n: mode === 'single' ? 1 : n, q, p: ((pSeed - 1) % q) + 1 }));

const opArb = fc.record({
  user: fc.constantFrom(...POOL),
  op: fc.constantFrom('approve', 'approve', 'reject', 'transfer', 'addApprover', 'withdraw', 'returnTo', 'resubmit'),
  other: fc.constantFrom(...POOL),
  position: fc.constantFrom('before', 'after'),
  target: fc.constantFrom('previous', 'initiator'),
  byTurn: fc.integer({ min: 0, max: 3 }),
});

describe('properties: approval semantics', () => {
  it('outcomes match the rules of each mode; sequential steps approve strictly in order', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(approvalCaseArb, fc.array(opArb, { maxLength: 25, size: 'max' }), ({ mode, n, p, q }, ops) => {
        const ids = POOL.slice(0, n);
        const def = approvalFlow({
          mode,
          approvers: ids.map((userId) => ({ userId })),
          ...(mode === 'ratio' ? { ratio: p / q } : {}),
        });
        let inst: InstanceSnapshot = instance('draft');
        const submit = () => {
          const r = evaluate(def, inst, assigneeStaff, 'submit', {}, NOW);
          expect(r.ok).toBe(true);
          if (r.ok) inst = instance(r.nextState, { approval: r.approval });
        };
        submit();
        for (const o of ops) {
          if (inst.state !== 'review') {
            if (inst.state === 'draft' && o.op === 'resubmit') submit();
            continue;
          }
          if (o.op === 'resubmit') continue;
          const payload =
            o.op === 'transfer'
              ? { toUserId: o.other }
              : o.op === 'addApprover'
                ? { userId: o.other, position: o.position }
                : o.op === 'returnTo'
                  ? { target: o.target }
                  : {};
          // three ops in four are taken by an approver whose turn it is, the rest by anyone in the pool
          const turn = actionableUserIds(inst.approval!);
          const user = o.byTurn > 0 && turn.length > 0 ? turn[o.byTurn % turn.length] : o.user;
          const r = evaluate(def, inst, actor(user, `unit-${user}`, 'leader'), o.op, payload, NOW);
          if (!r.ok) {
            expect(KNOWN_REFUSALS.has(r.refusal.code)).toBe(true);
            continue;
          }
          if (r.nextState === 'review') {
            const a = r.approval!;
            expect(a.outcome).toBe('pending');
            expect(oracle(mode, p, q, a.slots)).toBe('pending');
            const active = a.slots.filter((s) => s.status !== 'transferred');
            expect(new Set(active.map((s) => s.userId)).size).toBe(active.length);
            if (mode === 'sequential') {
              // approved slots form a prefix: nobody approved out of order
              const firstOpen = active.findIndex((s) => s.status !== 'approved');
              expect(active.slice(firstOpen).every((s) => s.status === 'pending')).toBe(true);
            }
          } else if (r.nextState === 'draft') {
            expect(o.op).toBe('returnTo');
            expect(r.concludedApproval?.outcome).toBe('returned');
          } else {
            const concluded = r.concludedApproval!;
            expect(['approve', 'reject']).toContain(o.op);
            expect(concluded.outcome).toBe(r.nextState);
            expect(oracle(mode, p, q, concluded.slots)).toBe(r.nextState);
            const active = concluded.slots.filter((s) => s.status !== 'transferred');
            if (r.nextState === 'approved' && (mode === 'all' || mode === 'sequential')) {
              expect(active.every((s) => s.status === 'approved')).toBe(true);
            }
            if (r.nextState === 'approved' && mode === 'ratio') {
              const yes = active.filter((s) => s.status === 'approved').length;
              expect(yes * q).toBeGreaterThanOrEqual(p * active.length);
            }
          }
          inst = instance(r.nextState, { approval: r.approval });
          seen.add(`${mode}:${r.nextState}`);
        }
      }),
      { numRuns: 500 },
    );
    // the walk is not vacuous: every mode was seen approving and rejecting (and ops returning to the draft)
    for (const mode of ['single', 'all', 'any', 'sequential', 'ratio']) {
      for (const outcome of ['approved', 'rejected', 'draft', 'review']) expect(seen).toContain(`${mode}:${outcome}`);
    }
  });
});

/** Test fixtures (used by the specs only). */
import type { Actor, ApprovalStepConfig, InstanceSnapshot, WorkflowDefinition } from '../definition.js';

export const NOW = '2025-03-01T08:00:00.000Z';
export const DUE = '2025-03-11T08:00:00.000Z';

export const OWNER_UNIT = 'dept-landscape';
export const OWNER_PARENT = 'district';
export const ASSIGNEE_UNIT = 'street-1';

export function instance(state: string, over: Partial<InstanceSnapshot> = {}): InstanceSnapshot {
  return {
    state,
    version: 1,
    ownerOrgUnitId: OWNER_UNIT,
    assigneeOrgUnitId: ASSIGNEE_UNIT,
    ownerParentOrgUnitId: OWNER_PARENT,
    assigneeAncestorIds: [OWNER_PARENT],
    dueAt: DUE,
    facts: { escrowBalanceFen: 100_000, missingPowers: [], openChildren: 0, progress: 0 },
    ...over,
  };
}

export function actor(userId: string, orgUnitId: string, ...roles: string[]): Actor {
  return { userId, orgUnitId, roles };
}

export const ownerLeader = actor('u-owner-leader', OWNER_UNIT, 'leader');
export const ownerStaff = actor('u-owner-staff', OWNER_UNIT, 'staff');
export const superiorLeader = actor('u-district-leader', OWNER_PARENT, 'leader');
export const assigneeLeader = actor('u-street-leader', ASSIGNEE_UNIT, 'leader');
export const assigneeStaff = actor('u-street-staff', ASSIGNEE_UNIT, 'staff');
export const gridWorker = actor('u-grid', ASSIGNEE_UNIT, 'grid_worker');
export const stranger = actor('u-other', 'street-2', 'leader');

/** A three-step flow: start → step1 → step2 → done. */
export function threeStep(): WorkflowDefinition {
  const actors = [{ role: 'staff' as const, relation: 'assignee' as const }];
  return {
    key: 'three-step',
    name: 'Three steps',
    states: [{ id: 'start', initial: true }, { id: 'step1' }, { id: 'step2' }, { id: 'done', final: true }],
    actions: [
      { id: 'go1', from: ['start'], to: 'step1', actors },
      { id: 'go2', from: ['step1'], to: 'step2', actors },
      { id: 'finish', from: ['step2'], to: 'done', actors },
    ],
  };
}

/** A workflow around one approval step: draft → review (approval) → approved | rejected. */
export function approvalFlow(
  approval: Partial<ApprovalStepConfig> & Pick<ApprovalStepConfig, 'mode' | 'approvers'>,
): WorkflowDefinition {
  return {
    key: 'approval-test',
    name: 'Approval test',
    states: [
      { id: 'draft', initial: true },
      { id: 'review', approval: { onApproved: 'approved', onRejected: 'rejected', ...approval } },
      { id: 'approved', final: true },
      { id: 'rejected', final: true },
    ],
    actions: [
      { id: 'submit', from: ['draft'], to: 'review', actors: [{ role: 'staff', relation: 'assignee' }] },
      { id: 'cancel', from: ['draft', 'review'], to: 'rejected', actors: [{ role: 'leader', relation: 'owner' }] },
    ],
    timers: [{ id: 'review-reminder', state: 'review', after: 'PT4H', do: { kind: 'remind' } }],
  };
}

/** A user acting for `unit` with role leader, used as an approver. */
export function approver(userId: string): Actor {
  return actor(userId, `unit-of-${userId}`, 'leader');
}

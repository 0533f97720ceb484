/**
 * Approval steps as a pure state machine over `ApprovalState`: initialisation (approver resolution), the outcome
 * rule of each mode, whose turn it is, and the operations approve / reject / transfer / addApprover / withdraw /
 * returnTo. Moving the instance between states is `evaluate`'s job; this module only reports what happened.
 */
import type {
  Actor,
  ApprovalHistoryEntry,
  ApprovalMode,
  ApprovalOperation,
  ApprovalSlot,
  ApprovalState,
  ApprovalStepConfig,
  Directory,
  DirectoryInput,
  JsonSchema,
  Refusal,
  RefusalCode,
  Relation,
  Role,
} from './definition.js';
import { APPROVAL_OPERATIONS } from './definition.js';

const COMMENT = { type: 'string', maxLength: 2000 };

/** Payload schemas of the approval operations (validated by `evaluate`). */
export const APPROVAL_OPERATION_SCHEMAS: Readonly<Record<ApprovalOperation, JsonSchema>> = {
  approve: { type: 'object', additionalProperties: false, properties: { comment: COMMENT } },
  reject: { type: 'object', additionalProperties: false, properties: { comment: COMMENT } },
  transfer: {
    type: 'object',
    additionalProperties: false,
    required: ['toUserId'],
    properties: { toUserId: { type: 'string', minLength: 1 }, comment: COMMENT },
  },
  addApprover: {
    type: 'object',
    additionalProperties: false,
    required: ['userId', 'position'],
    properties: { userId: { type: 'string', minLength: 1 }, position: { enum: ['before', 'after'] }, comment: COMMENT },
  },
  withdraw: { type: 'object', additionalProperties: false, properties: { comment: COMMENT } },
  returnTo: {
    type: 'object',
    additionalProperties: false,
    required: ['target'],
    properties: { target: { enum: ['previous', 'initiator'] }, comment: COMMENT },
  },
};

export const APPROVAL_OPERATION_LABELS: Readonly<Record<ApprovalOperation, string>> = {
  approve: '同意',
  reject: '驳回',
  transfer: '转办',
  addApprover: '加签',
  withdraw: '撤回',
  returnTo: '退回',
};

export function isApprovalOperation(id: string): id is ApprovalOperation {
  return (APPROVAL_OPERATIONS as readonly string[]).includes(id);
}

// ---------------------------------------------------------------------------------------------------------------
// Directory

/** Normalises a directory snapshot: an object with `usersWith`, or a map keyed `role:relation`. */
export function toDirectory(input: DirectoryInput | undefined): Directory | undefined {
  if (!input) return undefined;
  if (typeof (input as Directory).usersWith === 'function') return input as Directory;
  const map = input as Readonly<Record<string, readonly string[]>>;
  return { usersWith: (role: Role, relation: Relation) => map[`${role}:${relation}`] ?? [] };
}

/** Resolves the approver specs to distinct user ids, in spec order then directory order. */
export function resolveApprovers(config: ApprovalStepConfig, directory: Directory | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const spec of config.approvers) {
    const ids = 'userId' in spec ? [spec.userId] : (directory?.usersWith(spec.role, spec.relation) ?? []);
    for (const id of ids) {
      if (!seen.has(id)) {
        seen.add(id);
        out.push(id);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Outcome rules

/** Approvals needed in ratio mode: ⌈ratio · n⌉ (at least 1), robust to floating-point noise. */
export function requiredApprovals(ratio: number, n: number): number {
  return Math.max(1, Math.ceil(ratio * n - 1e-9));
}

export interface ApprovalTally {
  approved: number;
  rejected: number;
  pending: number;
  total: number;
}

export function tally(state: ApprovalState): ApprovalTally {
  let approved = 0;
  let rejected = 0;
  let pending = 0;
  for (const s of state.slots) {
    if (s.status === 'approved') approved++;
    else if (s.status === 'rejected') rejected++;
    else if (s.status === 'pending') pending++;
  }
  return { approved, rejected, pending, total: approved + rejected + pending };
}

/**
 * The outcome rule:
 * - single: the first decision decides;
 * - all (会签) and sequential: approved when every approver approved, rejected on the first reject;
 * - any (或签): approved on the first approve, rejected when every approver rejected;
 * - ratio: approved when approvals ≥ ⌈r·n⌉, rejected as soon as that can no longer be reached.
 */
export function decideOutcome(
  mode: ApprovalMode,
  ratio: number | undefined,
  t: ApprovalTally,
): ApprovalState['outcome'] {
  switch (mode) {
    case 'single':
      if (t.approved > 0) return 'approved';
      if (t.rejected > 0) return 'rejected';
      return 'pending';
    case 'all':
    case 'sequential':
      if (t.rejected > 0) return 'rejected';
      if (t.approved === t.total) return 'approved';
      return 'pending';
    case 'any':
      if (t.approved > 0) return 'approved';
      if (t.rejected === t.total) return 'rejected';
      return 'pending';
    case 'ratio': {
      const need = requiredApprovals(ratio ?? 1, t.total);
      if (t.approved >= need) return 'approved';
      if (t.approved + t.pending < need) return 'rejected';
      return 'pending';
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Turns

function activeIndex(state: ApprovalState, userId: string): number {
  return state.slots.findIndex((s) => s.userId === userId && s.status !== 'transferred');
}

/** Whether the slot at `index` may act now: pending, its turn in sequential mode, not waiting on another slot. */
export function isActionable(state: ApprovalState, index: number): boolean {
  const slot = state.slots[index];
  if (!slot || slot.status !== 'pending') return false;
  if (state.mode === 'sequential') {
    for (let i = 0; i < index; i++) if (state.slots[i].status === 'pending') return false;
  }
  if (slot.waitsFor !== undefined) {
    const j = activeIndex(state, slot.waitsFor);
    if (j >= 0 && state.slots[j].status === 'pending') return false;
  }
  return true;
}

/** The user ids that may act now. */
export function actionableUserIds(state: ApprovalState): string[] {
  const out: string[] = [];
  state.slots.forEach((s, i) => {
    if (isActionable(state, i)) out.push(s.userId);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Operations

export function initApproval(
  config: ApprovalStepConfig,
  stateId: string,
  approverIds: readonly string[],
  nowIso: string,
  initiator: ApprovalState['initiator'],
  enteredFrom: string | null,
): ApprovalState {
  const state: ApprovalState = {
    state: stateId,
    mode: config.mode,
    slots: approverIds.map((userId) => ({ userId, status: 'pending' })),
    history: [],
    initiator,
    enteredFrom,
    startedAt: nowIso,
    outcome: 'pending',
  };
  if (config.mode === 'ratio') state.ratio = config.ratio;
  return state;
}

export type ApprovalOpResult =
  | {
      ok: true;
      approval: ApprovalState;
      /** Users who may act now and could not before: they should be notified. */
      newlyActionable: string[];
      /** returnTo that leaves the approval state. */
      returnTo?: 'previous' | 'initiator';
    }
  | { ok: false; refusal: Refusal };

function refuse(code: RefusalCode, message: string, details?: unknown): { ok: false; refusal: Refusal } {
  const refusal: Refusal = { code, reason: code, message };
  if (details !== undefined) refusal.details = details;
  return { ok: false, refusal };
}

function cloneState(state: ApprovalState): ApprovalState {
  return {
    ...state,
    initiator: { ...state.initiator },
    slots: state.slots.map((s) => ({ ...s })),
    history: state.history.slice(),
  };
}

function resetSlot(slot: ApprovalSlot): void {
  slot.status = 'pending';
  delete slot.decidedAt;
  delete slot.comment;
}

/**
 * Applies one approval operation by `actor`. The input state is not modified. `payload` must already have been
 * validated against `APPROVAL_OPERATION_SCHEMAS[op]`.
 */
export function applyApprovalOperation(
  current: ApprovalState,
  actor: Actor,
  op: ApprovalOperation,
  payload: Record<string, unknown>,
  nowIso: string,
): ApprovalOpResult {
  if (current.outcome !== 'pending') return refuse('APPROVAL_NOT_PENDING', 'the approval is no longer pending');
  const comment = typeof payload.comment === 'string' ? payload.comment : undefined;
  const entry: ApprovalHistoryEntry = { op, userId: actor.userId, at: nowIso };
  if (comment !== undefined) entry.comment = comment;
  const before = new Set(actionableUserIds(current));

  if (op === 'withdraw') {
    const last = current.history[current.history.length - 1];
    if (!last || last.userId !== actor.userId || (last.op !== 'approve' && last.op !== 'reject')) {
      return refuse(
        'APPROVAL_WITHDRAW_NOT_ALLOWED',
        'only the last decision can be withdrawn, and only before anyone else has acted',
      );
    }
    const next = cloneState(current);
    const i = activeIndex(next, actor.userId);
    if (i < 0) return refuse('APPROVAL_WITHDRAW_NOT_ALLOWED', 'the decision to withdraw was not found');
    resetSlot(next.slots[i]);
    next.history.push(entry);
    return finish(next, before, actor.userId);
  }

  const index = activeIndex(current, actor.userId);
  if (index < 0 || current.slots[index].status !== 'pending') {
    return refuse('APPROVAL_NOT_PENDING', 'you have no pending approval on this task');
  }
  if (!isActionable(current, index)) {
    return refuse('APPROVAL_NOT_YOUR_TURN', 'another approver must act first', {
      waitingFor: actionableUserIds(current),
    });
  }

  const next = cloneState(current);
  const slot = next.slots[index];
  switch (op) {
    case 'approve':
    case 'reject': {
      slot.status = op === 'approve' ? 'approved' : 'rejected';
      slot.decidedAt = nowIso;
      if (comment !== undefined) slot.comment = comment;
      next.history.push(entry);
      break;
    }
    case 'transfer': {
      const to = payload.toUserId as string;
      if (to === actor.userId) return refuse('APPROVAL_INVALID_OPERATION', 'cannot transfer to yourself');
      if (activeIndex(next, to) >= 0) return refuse('APPROVAL_INVALID_OPERATION', `${to} is already an approver`);
      slot.status = 'transferred';
      slot.transferredTo = to;
      const replacement: ApprovalSlot = { userId: to, status: 'pending', transferredFrom: actor.userId };
      if (slot.waitsFor !== undefined) replacement.waitsFor = slot.waitsFor;
      for (const s of next.slots) if (s.waitsFor === actor.userId) s.waitsFor = to;
      next.slots.splice(index + 1, 0, replacement);
      entry.targetUserId = to;
      next.history.push(entry);
      break;
    }
    case 'addApprover': {
      const userId = payload.userId as string;
      const position = payload.position as 'before' | 'after';
      if (next.mode === 'single') {
        return refuse('APPROVAL_INVALID_OPERATION', 'a single-approver step cannot take more approvers');
      }
      if (activeIndex(next, userId) >= 0) {
        return refuse('APPROVAL_INVALID_OPERATION', `${userId} is already an approver`);
      }
      const added: ApprovalSlot = { userId, status: 'pending', addedBy: actor.userId };
      if (position === 'before') {
        // 前加签: the added approver decides first, then the turn comes back to me.
        slot.waitsFor = userId;
        next.slots.splice(index, 0, added);
      } else {
        // 后加签: the added approver decides after me.
        added.waitsFor = actor.userId;
        next.slots.splice(index + 1, 0, added);
      }
      entry.targetUserId = userId;
      entry.position = position;
      next.history.push(entry);
      break;
    }
    case 'returnTo': {
      const target = payload.target as 'previous' | 'initiator';
      entry.target = target;
      if (target === 'previous' && next.mode === 'sequential') {
        for (let j = index - 1; j >= 0; j--) {
          if (next.slots[j].status === 'approved') {
            // back to the previous approver within the step
            resetSlot(next.slots[j]);
            entry.targetUserId = next.slots[j].userId;
            next.history.push(entry);
            return finish(next, before, actor.userId);
          }
        }
      }
      const goal = target === 'previous' ? next.enteredFrom : next.initiator.state;
      if (goal === null) {
        return refuse('APPROVAL_INVALID_OPERATION', `there is no ${target} state to return to`);
      }
      next.history.push(entry);
      next.outcome = 'returned';
      return { ok: true, approval: next, newlyActionable: [], returnTo: target };
    }
  }
  return finish(next, before, actor.userId);
}

function finish(next: ApprovalState, before: Set<string>, actorId: string): ApprovalOpResult {
  next.outcome = decideOutcome(next.mode, next.ratio, tally(next));
  const newlyActionable =
    next.outcome === 'pending' ? actionableUserIds(next).filter((u) => !before.has(u) && u !== actorId) : [];
  return { ok: true, approval: next, newlyActionable };
}

/** Approval operations the actor may perform now (the payload is not considered). */
export function availableApprovalOperations(
  state: ApprovalState | null | undefined,
  actor: Actor,
): ApprovalOperation[] {
  if (!state || state.outcome !== 'pending') return [];
  const out: ApprovalOperation[] = [];
  const i = activeIndex(state, actor.userId);
  if (i >= 0 && isActionable(state, i)) {
    out.push('approve', 'reject', 'transfer');
    if (state.mode !== 'single') out.push('addApprover');
    out.push('returnTo');
  }
  const last = state.history[state.history.length - 1];
  if (last && last.userId === actor.userId && (last.op === 'approve' || last.op === 'reject')) out.push('withdraw');
  return out;
}

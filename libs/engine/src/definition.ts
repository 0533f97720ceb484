/**
 * Types of the workflow definition language, of a running instance as the engine sees it, and of the engine's
 * answers. Everything here is plain data (JSON-serialisable), so the shell can persist it as it is.
 */

export const ROLES = ['admin', 'leader', 'staff', 'grid_worker', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/**
 * How an actor relates to a task:
 * - `owner`: the actor's unit owns the task (handed it off, will verify);
 * - `assignee`: the actor's unit is the assignee;
 * - `ownerSuperior`: the actor's unit is the parent of the owner unit;
 * - `aboveAssignee`: the actor's unit is a strict ancestor of the assignee unit;
 * - `any`: anyone with the role who can see the task (visibility is the shell's business).
 */
export const RELATIONS = ['owner', 'assignee', 'ownerSuperior', 'aboveAssignee', 'any'] as const;
export type Relation = (typeof RELATIONS)[number];

export type JsonSchema = Record<string, unknown> | boolean;

export interface ActorSpec {
  role: Role;
  relation: Relation;
}

/** A reference to a named building block (guard or effect) with its parameters. */
export interface BlockRef {
  name: string;
  params?: Record<string, unknown>;
}

export const APPROVAL_MODES = ['single', 'all', 'any', 'sequential', 'ratio'] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

export type ApproverSpec = { userId: string } | { role: Role; relation: Relation };

export interface ApprovalStepConfig {
  mode: ApprovalMode;
  /** Ratio mode only: the share of approvals needed, 0 < ratio <= 1. */
  ratio?: number;
  approvers: ApproverSpec[];
  /** An action id (performed by the engine when the step passes; its `from` must include this state) or a state id. */
  onApproved: string;
  /** The state the task moves to when the step is rejected. */
  onRejected: string;
}

export interface StateDef {
  id: string;
  label?: string;
  /** The default entry state; exactly one state is initial. */
  initial?: true;
  /** An alternative entry state the shell may start an instance in (see `startInstance`). */
  entry?: true;
  final?: true;
  approval?: ApprovalStepConfig;
}

export interface ActionDef {
  id: string;
  label?: string;
  from: string[];
  /** Target state. Omitted: the state is unchanged (an internal self-loop, e.g. `urge`). */
  to?: string;
  /** Who may perform the action. Empty: only the engine may (as an approval's onApproved, or a timer's action). */
  actors: ActorSpec[];
  guards?: BlockRef[];
  effects?: BlockRef[];
  payloadSchema?: JsonSchema;
  kind?: 'transition';
}

export const TIMER_KINDS = ['remind', 'escalate', 'action'] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];

export const NOTIFY_TARGETS = ['owner', 'assignee', 'ownerSuperior', 'approvers'] as const;
export type NotifyTarget = (typeof NOTIFY_TARGETS)[number];

export interface TimerAction {
  kind: TimerKind;
  /** kind `action`: the action the engine performs (as the system) when the timer fires. */
  action?: string;
  /** kind `escalate`: escalation level (1 = owner's superior). */
  level?: number;
  /** remind/escalate: who is notified; defaults: remind → approvers in an approval state else assignee; escalate → ownerSuperior. */
  to?: NotifyTarget;
  template?: string;
}

export interface TimerDef {
  id: string;
  /** The timer runs while the instance is in this state: started on entry, cancelled on exit. */
  state: string;
  /** ISO-8601 duration after entering the state, e.g. `PT2H`, `P3D`. */
  after?: string;
  /** Fraction (0..1) of the time from entering the state to the task's due time. */
  atFraction?: number;
  /** At the task's due time. */
  atDeadline?: true;
  /** Working days after entering the state (weekends, public holidays and make-up working days honoured). */
  afterWorkingDays?: number;
  /**
   * Working days before the task's due time, at the same time of day. Not started when the state is entered
   * later than that moment (the task is already inside the window).
   */
  workingDaysBeforeDeadline?: number;
  do: TimerAction;
}

export interface WorkflowDefinition {
  $schema?: string;
  key: string;
  name: string;
  description?: string;
  version?: number;
  states: StateDef[];
  actions: ActionDef[];
  timers?: TimerDef[];
}

// ---------------------------------------------------------------------------------------------------------------
// Runtime shapes

/** Facts the shell computes before calling the engine; guards read them. */
export interface InstanceFacts {
  /** Current escrow balance of the task (fen). `fundsAttached` needs it > 0. */
  escrowBalanceFen?: number;
  /** Powers the category requires that the assignee holds neither by duty nor by an active grant. */
  missingPowers?: readonly string[];
  /** Number of child tasks not in a final state. */
  openChildren?: number;
  /** Task progress 0..100. */
  progress?: number;
  /** dueAt of an extension request awaiting a decision, if any. */
  pendingExtensionDueAt?: string | null;
  [fact: string]: unknown;
}

export interface InstanceSnapshot {
  state: string;
  version: number;
  ownerOrgUnitId: string;
  assigneeOrgUnitId: string;
  ownerParentOrgUnitId?: string | null;
  /** Strict ancestors of the assignee unit (not including the assignee unit itself). */
  assigneeAncestorIds: readonly string[];
  /** ISO-8601 UTC due time. */
  dueAt?: string | null;
  facts: InstanceFacts;
  /** The approval in progress (as returned by the engine), when the state has an approval step. */
  approval?: ApprovalState | null;
}

export interface Actor {
  userId: string;
  orgUnitId: string;
  roles: readonly string[];
}

/**
 * A deterministic snapshot the shell builds per task to resolve role+relation approver specs into user ids.
 * Either an object with `usersWith`, or a plain map keyed `role:relation` (e.g. `leader:owner`).
 */
export interface Directory {
  usersWith(role: Role, relation: Relation): readonly string[];
}
export type DirectoryInput = Directory | Readonly<Record<string, readonly string[]>>;

// ---------------------------------------------------------------------------------------------------------------
// Approval state

export const APPROVAL_OPERATIONS = ['approve', 'reject', 'transfer', 'addApprover', 'withdraw', 'returnTo'] as const;
export type ApprovalOperation = (typeof APPROVAL_OPERATIONS)[number];

export type ApprovalSlotStatus = 'pending' | 'approved' | 'rejected' | 'transferred';

export interface ApprovalSlot {
  userId: string;
  status: ApprovalSlotStatus;
  /** This slot may act only once the slot of that user has decided (加签 before/after). */
  waitsFor?: string;
  addedBy?: string;
  transferredFrom?: string;
  transferredTo?: string;
  decidedAt?: string;
  comment?: string;
}

export interface ApprovalHistoryEntry {
  op: ApprovalOperation;
  userId: string;
  at: string;
  targetUserId?: string;
  position?: 'before' | 'after';
  target?: 'previous' | 'initiator';
  comment?: string;
}

export type ApprovalOutcome = 'pending' | 'approved' | 'rejected' | 'returned';

export interface ApprovalState {
  /** The state holding the approval step. */
  state: string;
  mode: ApprovalMode;
  ratio?: number;
  slots: ApprovalSlot[];
  history: ApprovalHistoryEntry[];
  /** Who started the approval chain, and from which state (target of `returnTo initiator`). */
  initiator: { userId: string; state: string | null };
  /** The state the instance was in before this approval state (target of `returnTo previous` at the first step). */
  enteredFrom: string | null;
  startedAt: string;
  outcome: ApprovalOutcome;
}

// ---------------------------------------------------------------------------------------------------------------
// Engine answers

export interface EffectDescriptor {
  name: string;
  params: Record<string, unknown>;
}

export interface TimerStart {
  timerId: string;
  state: string;
  /**
   * ISO-8601 UTC time at which the timer fires. For a working-day schedule (`workingDays` set) this is a
   * calendar-day estimate: the shell moves it onto the working-day calendar before writing the timer.
   */
  dueAt: string;
  /** A working-day schedule: fire `days` working days after (positive) or before (negative) `from`. */
  workingDays?: { from: string; days: number };
  do: TimerAction;
}

export interface TimerPlan {
  start: TimerStart[];
  /** Ids of timers to cancel (definition timer ids, scoped to the instance). */
  cancel: string[];
}

export type RefusalCode =
  | 'ACTION_NOT_AVAILABLE'
  | 'NOT_PERMITTED'
  | 'GUARD_FAILED'
  | 'PAYLOAD_INVALID'
  | 'APPROVAL_NOT_PENDING'
  | 'APPROVAL_NOT_YOUR_TURN'
  | 'APPROVAL_WITHDRAW_NOT_ALLOWED'
  | 'APPROVAL_INVALID_OPERATION'
  | 'APPROVAL_NO_APPROVERS'
  | 'UNKNOWN_STATE'
  | 'NOT_AN_ENTRY_STATE'
  | 'TIMER_UNKNOWN'
  | 'TIMER_STALE';

export interface Refusal {
  code: RefusalCode;
  /** Stable string form: the code, or `GUARD_FAILED:<guard>` for a guard failure. */
  reason: string;
  message: string;
  guard?: string;
  details?: unknown;
}

export type EvaluationKind = 'transition' | 'approval' | 'start' | 'timer';

export interface EvaluationOk {
  ok: true;
  kind: EvaluationKind;
  /** The action or approval operation (`start` for startInstance, the timer id for evaluateTimer). */
  action: string;
  /** null only for `startInstance`. */
  fromState: string | null;
  nextState: string;
  stateChanged: boolean;
  /** True when nextState is final. */
  final: boolean;
  effects: EffectDescriptor[];
  timers: TimerPlan;
  /** The approval state to persist (null: no approval in progress after this step). */
  approval: ApprovalState | null;
  /** Set when this step concluded an approval (approved, rejected or returned): its final record. */
  concludedApproval?: ApprovalState;
}

export interface EvaluationRefused {
  ok: false;
  refusal: Refusal;
}

export type EvaluationResult = EvaluationOk | EvaluationRefused;

export interface AvailableAction {
  id: string;
  label: string;
  kind: 'transition' | 'approval';
  payloadSchema: JsonSchema | null;
}

/**
 * The pure core: given a definition, an instance snapshot, an actor, an action (or approval operation) and its
 * payload, decide the next state, the effects for the shell to apply, the timers to start and cancel, and the new
 * approval state — or refuse with a stable code. No I/O, no clock, no randomness: `now` is an argument.
 */
import type { ValidateFunction } from 'ajv';
import {
  APPROVAL_OPERATION_LABELS,
  APPROVAL_OPERATION_SCHEMAS,
  actionableUserIds,
  applyApprovalOperation,
  availableApprovalOperations,
  initApproval,
  isApprovalOperation,
  resolveApprovers,
  toDirectory,
} from './approval.js';
import type { CompiledAction, CompiledDefinition, CompiledState } from './compile.js';
import { compile } from './compile.js';
import type {
  Actor,
  ActorSpec,
  ApprovalOperation,
  ApprovalState,
  AvailableAction,
  Directory,
  DirectoryInput,
  EffectDescriptor,
  EvaluationKind,
  EvaluationOk,
  EvaluationRefused,
  EvaluationResult,
  InstanceSnapshot,
  Refusal,
  RefusalCode,
  TimerPlan,
  WorkflowDefinition,
} from './definition.js';
import { createAjv } from './schema.js';
import { isDeadlineRelative, parseInstant, timerStart, timersOnEnter } from './timers.js';
import { formatAjvErrors } from './validate.js';

export type DefinitionLike = WorkflowDefinition | CompiledDefinition;
/** An instant: epoch milliseconds, a Date, or an ISO-8601 string. */
export type Instant = number | Date | string;

/** The actor used for timer-fired actions: it bypasses the actor check (guards still apply). */
export const SYSTEM_ACTOR: Actor = Object.freeze({ userId: 'system', orgUnitId: '', roles: Object.freeze([]) });

const EMPTY_PAYLOAD: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function toMs(now: Instant): number {
  const ms = typeof now === 'number' ? now : now instanceof Date ? now.getTime() : Date.parse(now);
  if (!Number.isFinite(ms)) throw new TypeError(`invalid instant: ${String(now)}`);
  return ms;
}

export function refusal(code: RefusalCode, message: string, extra?: Partial<Refusal>): EvaluationRefused {
  return { ok: false, refusal: { code, reason: code, message, ...extra } };
}

/** The stable string form of a refusal: its code, or `GUARD_FAILED:<guard>`. */
export function refusalReason(r: Refusal): string {
  return r.code === 'GUARD_FAILED' && r.guard ? `GUARD_FAILED:${r.guard}` : r.code;
}

// ---------------------------------------------------------------------------------------------------------------
// Who may act

/** Whether the actor's unit stands in `relation` to the task. */
export function relationHolds(relation: ActorSpec['relation'], instance: InstanceSnapshot, actor: Actor): boolean {
  const unit = actor.orgUnitId;
  switch (relation) {
    case 'owner':
      return unit === instance.ownerOrgUnitId;
    case 'assignee':
      return unit === instance.assigneeOrgUnitId;
    case 'ownerSuperior':
      return !!instance.ownerParentOrgUnitId && unit === instance.ownerParentOrgUnitId;
    case 'aboveAssignee':
      return unit !== instance.assigneeOrgUnitId && instance.assigneeAncestorIds.includes(unit);
    case 'any':
      return true;
  }
}

export function isPermitted(actors: readonly ActorSpec[], instance: InstanceSnapshot, actor: Actor): boolean {
  for (const spec of actors) {
    if (actor.roles.includes(spec.role) && relationHolds(spec.relation, instance, actor)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

interface Ctx {
  c: CompiledDefinition;
  instance: InstanceSnapshot;
  actor: Actor;
  nowMs: number;
  directory: Directory | undefined;
  kind: EvaluationKind;
  opName: string;
}

function nowIso(ctx: Ctx): string {
  return new Date(ctx.nowMs).toISOString();
}

/**
 * Evaluates `action` (an action id, or an approval operation in a state with an approval step) by `actor` on
 * `instance`. Never throws for a refused action; throws `DefinitionInvalidError` for an invalid definition.
 */
export function evaluate(
  definition: DefinitionLike,
  instance: InstanceSnapshot,
  actor: Actor,
  action: string,
  payload: unknown,
  now: Instant,
  directory?: DirectoryInput,
): EvaluationResult {
  const c = compile(definition);
  const state = c.states.get(instance.state);
  if (!state) return refusal('UNKNOWN_STATE', `the instance is in "${instance.state}", which is not in ${c.key}`);
  const ctx: Ctx = {
    c,
    instance,
    actor,
    nowMs: toMs(now),
    directory: toDirectory(directory),
    kind: 'transition',
    opName: action,
  };
  const body = payload === undefined || payload === null ? EMPTY_PAYLOAD : payload;
  if (typeof body !== 'object' || Array.isArray(body)) {
    return refusal('PAYLOAD_INVALID', 'the payload must be a JSON object');
  }
  if (state.def.approval && isApprovalOperation(action)) {
    ctx.kind = 'approval';
    return evaluateApprovalOperation(ctx, state, action, body as Record<string, unknown>);
  }
  const a = c.actions.get(action);
  if (!a || !a.from.has(state.id)) {
    return refusal('ACTION_NOT_AVAILABLE', `action "${action}" is not available in state "${state.id}"`);
  }
  if (!isPermitted(a.def.actors, instance, actor)) {
    return refusal('NOT_PERMITTED', `you may not perform "${action}" on this task`);
  }
  return performAction(ctx, state, a, body as Record<string, unknown>, true);
}

function checkPayload(a: CompiledAction, payload: Record<string, unknown>): EvaluationRefused | null {
  if (a.validatePayload && !a.validatePayload(payload)) {
    const errors = a.validatePayload.errors ?? [];
    return refusal('PAYLOAD_INVALID', `invalid payload for "${a.id}": ${formatAjvErrors(errors)}`, {
      details: errors.map((e) => ({ path: e.instancePath, keyword: e.keyword, message: e.message })),
    });
  }
  return null;
}

function checkGuards(ctx: Ctx, a: CompiledAction, payload: Record<string, unknown>): EvaluationRefused | null {
  if (a.guards.length === 0) return null;
  const gctx = { instance: ctx.instance, payload, actor: ctx.actor, now: ctx.nowMs };
  for (const g of a.guards) {
    if (!g.block.test(gctx, g.params)) {
      return {
        ok: false,
        refusal: {
          code: 'GUARD_FAILED',
          reason: `GUARD_FAILED:${g.name}`,
          guard: g.name,
          message: g.block.failureMessage(g.params),
        },
      };
    }
  }
  return null;
}

/** Validates the payload, checks the guards, then performs the action's effects and state change. */
function performAction(
  ctx: Ctx,
  state: CompiledState,
  a: CompiledAction,
  payload: Record<string, unknown>,
  validate: boolean,
  carryInitiator?: ApprovalState['initiator'],
  extraEffects?: EffectDescriptor[],
): EvaluationResult {
  if (validate) {
    const bad = checkPayload(a, payload);
    if (bad) return bad;
  }
  const failed = checkGuards(ctx, a, payload);
  if (failed) return failed;

  const effects: EffectDescriptor[] = extraEffects ?? [];
  const timers: TimerPlan = { start: [], cancel: [] };
  let dueMs: number | null | undefined;
  let dueChanged = false;
  const explicitStarts: string[] = [];
  for (const e of a.effects) {
    const params = e.params;
    switch (e.name) {
      case 'startTimer':
        explicitStarts.push(params?.timerId as string);
        break;
      case 'cancelTimers': {
        const ids = (params?.timerIds as string[] | undefined) ?? [...ctx.c.timers.keys()];
        timers.cancel.push(...ids);
        break;
      }
      case 'extendDue': {
        const requested =
          typeof payload.dueAt === 'string' ? payload.dueAt : (ctx.instance.facts.pendingExtensionDueAt ?? null);
        const ms = parseInstant(typeof requested === 'string' ? requested : null);
        if (ms === null) return refusal('PAYLOAD_INVALID', 'extendDue needs payload.dueAt or a pending extension');
        dueMs = ms;
        dueChanged = true;
        effects.push({ name: 'extendDue', params: { dueAt: new Date(ms).toISOString() } });
        break;
      }
      case 'setProgress':
        effects.push({
          name: 'setProgress',
          params: { percent: params?.percent ?? payload.percent },
        });
        break;
      default:
        effects.push({ name: e.name, params: params ? { ...params } : {} });
    }
  }
  const to = a.to ?? state.id;
  const moved = moveTo(ctx, state, to, effects, timers, dueChanged ? (dueMs as number) : undefined, carryInitiator);
  if (!moved.ok) return moved;
  if (explicitStarts.length > 0) {
    const due = dueMs !== undefined ? dueMs : parseInstant(ctx.instance.dueAt);
    for (const id of explicitStarts) {
      const t = ctx.c.timers.get(id);
      const s = t ? timerStart(t, ctx.nowMs, due) : null;
      if (s) {
        timers.cancel.push(id);
        timers.start.push(s);
      }
    }
  }
  if (a.touchesTimers) timers.cancel = [...new Set(timers.cancel)];
  return moved;
}

/**
 * Moves the instance from `from` to the state `to`: exits (cancels the old state's timers), enters (starts the new
 * state's timers, initialises its approval step). A self-loop neither exits nor enters; when the due time changed,
 * the deadline-relative timers of the state are restarted.
 */
function moveTo(
  ctx: Ctx,
  from: CompiledState,
  to: string,
  effects: EffectDescriptor[],
  timers: TimerPlan,
  newDueMs: number | undefined,
  carryInitiator?: ApprovalState['initiator'],
): EvaluationOk | EvaluationRefused {
  const target = ctx.c.states.get(to) as CompiledState;
  let approval: ApprovalState | null;
  if (target === from) {
    approval = ctx.instance.approval ?? null;
    if (newDueMs !== undefined) {
      for (const t of from.timers) {
        if (!isDeadlineRelative(t)) continue;
        timers.cancel.push(t.def.id);
        const s = timerStart(t, ctx.nowMs, newDueMs);
        if (s) timers.start.push(s);
      }
    }
  } else {
    const entered = enterState(ctx, target, from.id, effects, timers, newDueMs, carryInitiator);
    if (!entered.ok) return entered;
    if (from.timerIds.length > 0) timers.cancel.unshift(...from.timerIds);
    approval = entered.approval;
  }
  return {
    ok: true,
    kind: ctx.kind,
    action: ctx.opName,
    fromState: from.id,
    nextState: target.id,
    stateChanged: target !== from,
    final: target.final,
    effects,
    timers,
    approval,
  };
}

function enterState(
  ctx: Ctx,
  target: CompiledState,
  fromId: string | null,
  effects: EffectDescriptor[],
  timers: TimerPlan,
  newDueMs: number | undefined,
  carryInitiator?: ApprovalState['initiator'],
): { ok: true; approval: ApprovalState | null } | EvaluationRefused {
  if (target.timers.length > 0) {
    const due = newDueMs !== undefined ? newDueMs : parseInstant(ctx.instance.dueAt);
    timers.start.push(...timersOnEnter(target, ctx.nowMs, due));
  }
  const config = target.def.approval;
  if (!config) return { ok: true, approval: null };
  const approverIds = resolveApprovers(config, ctx.directory);
  if (approverIds.length === 0) {
    return refusal('APPROVAL_NO_APPROVERS', `no approver could be resolved for the approval step of "${target.id}"`);
  }
  const initiator = carryInitiator ?? { userId: ctx.actor.userId, state: fromId };
  const approval = initApproval(config, target.id, approverIds, nowIso(ctx), initiator, fromId);
  effects.push(notifyUsers('approvers', 'approval.requested', actionableUserIds(approval), target.id));
  return { ok: true, approval };
}

function notifyUsers(to: string, template: string, userIds: string[], state: string): EffectDescriptor {
  return { name: 'notify', params: { to, template, userIds, state } };
}

// ---------------------------------------------------------------------------------------------------------------
// Approval operations

let approvalValidators: Record<ApprovalOperation, ValidateFunction> | undefined;

function approvalValidator(op: ApprovalOperation): ValidateFunction {
  if (!approvalValidators) {
    const ajv = createAjv();
    approvalValidators = Object.fromEntries(
      Object.entries(APPROVAL_OPERATION_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)]),
    ) as Record<ApprovalOperation, ValidateFunction>;
  }
  return approvalValidators[op];
}

function evaluateApprovalOperation(
  ctx: Ctx,
  state: CompiledState,
  op: ApprovalOperation,
  payload: Record<string, unknown>,
): EvaluationResult {
  const validate = approvalValidator(op);
  if (!validate(payload)) {
    return refusal('PAYLOAD_INVALID', `invalid payload for "${op}": ${formatAjvErrors(validate.errors)}`);
  }
  const current = ctx.instance.approval;
  if (!current || current.state !== state.id) {
    return refusal('APPROVAL_NOT_PENDING', `no approval is in progress in state "${state.id}"`);
  }
  const r = applyApprovalOperation(current, ctx.actor, op, payload, nowIso(ctx));
  if (!r.ok) return { ok: false, refusal: r.refusal };
  const config = state.def.approval!;
  const next = r.approval;
  const effects: EffectDescriptor[] = [];
  const timers: TimerPlan = { start: [], cancel: [] };

  let result: EvaluationResult;
  if (r.returnTo) {
    const goal = (r.returnTo === 'previous' ? next.enteredFrom : next.initiator.state) as string;
    if (r.returnTo === 'initiator') {
      effects.push(notifyUsers('initiator', 'approval.returned', [next.initiator.userId], state.id));
    }
    result = moveTo(ctx, state, goal, effects, timers, undefined, next.initiator);
  } else if (next.outcome === 'approved') {
    const action = ctx.c.states.has(config.onApproved) ? undefined : ctx.c.actions.get(config.onApproved);
    result = action
      ? performAction(ctx, state, action, EMPTY_PAYLOAD, false, next.initiator, effects)
      : moveTo(ctx, state, config.onApproved, effects, timers, undefined, next.initiator);
  } else if (next.outcome === 'rejected') {
    result = moveTo(ctx, state, config.onRejected, effects, timers, undefined, next.initiator);
  } else {
    if (r.newlyActionable.length > 0) {
      effects.push(notifyUsers('approvers', 'approval.requested', r.newlyActionable, state.id));
    }
    return {
      ok: true,
      kind: 'approval',
      action: op,
      fromState: state.id,
      nextState: state.id,
      stateChanged: false,
      final: false,
      effects,
      timers,
      approval: next,
    };
  }
  if (result.ok) result.concludedApproval = next;
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Start, timers, queries

export interface StartOptions {
  /** The state to start in: the initial state (default) or a state marked `entry`. */
  entryState?: string;
  directory?: DirectoryInput;
}

/**
 * Starts an instance: enters the chosen entry state (starting its timers and initialising its approval step).
 * `instance.state` is ignored. The actor is the initiator; no actor check is made (creating tasks is the shell's
 * business).
 */
export function startInstance(
  definition: DefinitionLike,
  instance: Omit<InstanceSnapshot, 'state'> & { state?: string },
  actor: Actor,
  now: Instant,
  options: StartOptions = {},
): EvaluationResult {
  const c = compile(definition);
  const entry = options.entryState ?? c.initial;
  const target = c.states.get(entry);
  if (!target || !target.entry) {
    return refusal('NOT_AN_ENTRY_STATE', `"${entry}" is not an entry state of ${c.key}`);
  }
  const snapshot: InstanceSnapshot = { ...instance, state: entry, approval: null };
  const ctx: Ctx = {
    c,
    instance: snapshot,
    actor,
    nowMs: toMs(now),
    directory: toDirectory(options.directory),
    kind: 'start',
    opName: 'start',
  };
  const effects: EffectDescriptor[] = [];
  const timers: TimerPlan = { start: [], cancel: [] };
  const entered = enterState(ctx, target, null, effects, timers, undefined);
  if (!entered.ok) return entered;
  return {
    ok: true,
    kind: 'start',
    action: 'start',
    fromState: null,
    nextState: entry,
    stateChanged: true,
    final: target.final,
    effects,
    timers,
    approval: entered.approval,
  };
}

/**
 * Fires a timer started earlier. Refused with TIMER_STALE when the instance has left the timer's state (the shell
 * then drops the timer). remind/escalate return a `notify` effect; `action` performs the action as the system.
 */
export function evaluateTimer(
  definition: DefinitionLike,
  instance: InstanceSnapshot,
  timerId: string,
  now: Instant,
  directory?: DirectoryInput,
): EvaluationResult {
  const c = compile(definition);
  const timer = c.timers.get(timerId);
  if (!timer) return refusal('TIMER_UNKNOWN', `timer "${timerId}" is not defined in ${c.key}`);
  const state = c.states.get(instance.state);
  if (!state) return refusal('UNKNOWN_STATE', `the instance is in "${instance.state}", which is not in ${c.key}`);
  if (timer.def.state !== state.id) {
    return refusal('TIMER_STALE', `timer "${timerId}" belongs to "${timer.def.state}", the task is in "${state.id}"`);
  }
  const ctx: Ctx = {
    c,
    instance,
    actor: SYSTEM_ACTOR,
    nowMs: toMs(now),
    directory: toDirectory(directory),
    kind: 'timer',
    opName: timerId,
  };
  const d = timer.def.do;
  if (d.kind === 'action') {
    const a = c.actions.get(d.action as string) as CompiledAction;
    return performAction(ctx, state, a, EMPTY_PAYLOAD, true);
  }
  const approval = instance.approval ?? null;
  const to = d.to ?? (d.kind === 'escalate' ? 'ownerSuperior' : state.def.approval ? 'approvers' : 'assignee');
  const params: Record<string, unknown> = {
    to,
    template: d.template ?? (d.kind === 'escalate' ? 'timer.escalate' : 'timer.remind'),
    timerId,
    state: state.id,
  };
  if (d.kind === 'escalate') params.level = d.level ?? 1;
  if (to === 'approvers' && approval) params.userIds = actionableUserIds(approval);
  return {
    ok: true,
    kind: 'timer',
    action: timerId,
    fromState: state.id,
    nextState: state.id,
    stateChanged: false,
    final: state.final,
    effects: [{ name: 'notify', params }],
    timers: { start: [], cancel: [] },
    approval,
  };
}

/**
 * The actions the actor may perform now: permitted by role and relation, with the guards that depend neither on
 * the payload nor (unless `now` is given) on the clock passing; plus the approval operations open to the actor.
 * `directory` is accepted for symmetry with `evaluate` (approval operations read the persisted approval state).
 */
export function availableActions(
  definition: DefinitionLike,
  instance: InstanceSnapshot,
  actor: Actor,
  _directory?: DirectoryInput,
  now?: Instant,
): AvailableAction[] {
  const c = compile(definition);
  const state = c.states.get(instance.state);
  if (!state) return [];
  const out: AvailableAction[] = [];
  const nowMs = now === undefined ? undefined : toMs(now);
  const gctx = { instance, payload: EMPTY_PAYLOAD, actor, now: nowMs ?? 0 };
  const approvalState = state.def.approval;
  for (const a of state.actions) {
    if (approvalState && isApprovalOperation(a.id)) continue;
    if (!isPermitted(a.def.actors, instance, actor)) continue;
    const blocked = a.guards.some(
      (g) => !g.block.usesPayload && !(g.block.usesNow && nowMs === undefined) && !g.block.test(gctx, g.params),
    );
    if (blocked) continue;
    out.push({ id: a.id, label: a.label, kind: 'transition', payloadSchema: a.def.payloadSchema ?? null });
  }
  if (approvalState && instance.approval?.state === state.id) {
    for (const op of availableApprovalOperations(instance.approval, actor)) {
      out.push({
        id: op,
        label: APPROVAL_OPERATION_LABELS[op],
        kind: 'approval',
        payloadSchema: APPROVAL_OPERATION_SCHEMAS[op],
      });
    }
  }
  return out;
}

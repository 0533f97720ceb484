/**
 * Static validation of a workflow definition: the JSON Schema first, then cross-references, building blocks,
 * payload schemas, timers, approval steps and the state graph (reachability, dead ends).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ActionDef, ApprovalStepConfig, StateDef, TimerDef, WorkflowDefinition } from './definition.js';
import { APPROVAL_OPERATIONS } from './definition.js';
import { parseDuration } from './duration.js';
import { EFFECTS, GUARDS } from './registry.js';
import { WORKFLOW_DEFINITION_SCHEMA, createAjv } from './schema.js';

export type ValidationErrorCode =
  | 'SCHEMA'
  | 'DUPLICATE_ID'
  | 'UNKNOWN_STATE'
  | 'NO_INITIAL_STATE'
  | 'MULTIPLE_INITIAL_STATES'
  | 'NO_FINAL_STATE'
  | 'UNREACHABLE_STATE'
  | 'DEAD_END'
  | 'ACTION_FROM_FINAL_STATE'
  | 'UNKNOWN_GUARD'
  | 'UNKNOWN_EFFECT'
  | 'BAD_BLOCK_PARAMS'
  | 'PAYLOAD_SCHEMA_INVALID'
  | 'TIMER_UNKNOWN_ACTION'
  | 'TIMER_UNKNOWN_STATE'
  | 'TIMER_BAD_SCHEDULE'
  | 'TIMER_POLICY_UNKNOWN_TIMER'
  | 'APPROVAL_NO_APPROVERS'
  | 'APPROVAL_BAD_APPROVERS'
  | 'APPROVAL_BAD_RATIO'
  | 'APPROVAL_BAD_TARGET'
  | 'APPROVAL_ON_FINAL_STATE'
  | 'APPROVAL_ACTION_CONFLICT';

export interface DefinitionError {
  /** JSON pointer into the definition, e.g. `/actions/3/to`. */
  path: string;
  code: ValidationErrorCode;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: DefinitionError[];
}

let definitionValidator: ValidateFunction | undefined;
let blockAjv: ReturnType<typeof createAjv> | undefined;
const blockValidators = new Map<string, ValidateFunction>();

function schemaValidator(): ValidateFunction {
  definitionValidator ??= createAjv().compile(WORKFLOW_DEFINITION_SCHEMA);
  return definitionValidator;
}

/** Validates building-block params against the block's params schema (compiled once per block). */
export function blockParamsErrors(kind: 'guard' | 'effect', name: string, params: unknown): string | null {
  const block = kind === 'guard' ? GUARDS.get(name) : EFFECTS.get(name);
  if (!block) return `unknown ${kind} ${name}`;
  const key = `${kind}:${name}`;
  let v = blockValidators.get(key);
  if (!v) {
    blockAjv ??= createAjv();
    v = blockAjv.compile(block.paramsSchema);
    blockValidators.set(key, v);
  }
  if (v(params ?? {})) return null;
  return formatAjvErrors(v.errors);
}

export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ');
}

function schemaErrors(errors: ErrorObject[]): DefinitionError[] {
  const seen = new Set<string>();
  const out: DefinitionError[] = [];
  for (const e of errors) {
    let path = e.instancePath;
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof p.missingProperty === 'string') path += `/${p.missingProperty}`;
    if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
      path += `/${p.additionalProperty}`;
    }
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) message += `: ${p.allowedValues.join(', ')}`;
    if (e.keyword === 'additionalProperties') message = 'is not an allowed property';
    const k = `${path}|${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ path, code: 'SCHEMA', message });
  }
  return out;
}

/** Where an action goes: its `to`, or (no `to`) the state it was taken from. */
function targetsOf(a: ActionDef): (from: string) => string {
  return (from) => a.to ?? from;
}

export function validateDefinition(input: unknown): ValidationResult {
  const validate = schemaValidator();
  if (!validate(input)) return { valid: false, errors: schemaErrors(validate.errors ?? []) };
  const def = input as WorkflowDefinition;
  const errors: DefinitionError[] = [];
  const err = (path: string, code: ValidationErrorCode, message: string): void => {
    errors.push({ path, code, message });
  };

  // --- states
  const states = new Map<string, StateDef>();
  const stateIndex = new Map<string, number>();
  def.states.forEach((s, i) => {
    if (states.has(s.id)) err(`/states/${i}/id`, 'DUPLICATE_ID', `state id "${s.id}" is already used`);
    else {
      states.set(s.id, s);
      stateIndex.set(s.id, i);
    }
  });
  const initials = def.states.map((s, i) => ({ s, i })).filter(({ s }) => s.initial);
  if (initials.length === 0) err('/states', 'NO_INITIAL_STATE', 'exactly one state must be marked initial');
  for (const { s, i } of initials.slice(1)) {
    err(`/states/${i}/initial`, 'MULTIPLE_INITIAL_STATES', `"${s.id}" is a second initial state; use entry: true`);
  }
  const finals = new Set(def.states.filter((s) => s.final).map((s) => s.id));
  if (finals.size === 0) err('/states', 'NO_FINAL_STATE', 'at least one state must be final');

  // --- actions
  const actions = new Map<string, ActionDef>();
  const payloadAjv = createAjv();
  def.actions.forEach((a, i) => {
    const base = `/actions/${i}`;
    if (actions.has(a.id)) err(`${base}/id`, 'DUPLICATE_ID', `action id "${a.id}" is already used`);
    else actions.set(a.id, a);
    a.from.forEach((f, k) => {
      if (!states.has(f)) err(`${base}/from/${k}`, 'UNKNOWN_STATE', `unknown state "${f}"`);
      else if (finals.has(f)) {
        err(`${base}/from/${k}`, 'ACTION_FROM_FINAL_STATE', `"${f}" is final; no action may leave it`);
      }
      const st = states.get(f);
      if (st?.approval && (APPROVAL_OPERATIONS as readonly string[]).includes(a.id)) {
        err(
          `${base}/id`,
          'APPROVAL_ACTION_CONFLICT',
          `"${a.id}" is an approval operation in state "${f}", which has an approval step`,
        );
      }
    });
    if (a.to !== undefined && !states.has(a.to)) err(`${base}/to`, 'UNKNOWN_STATE', `unknown state "${a.to}"`);
    (a.guards ?? []).forEach((g, k) => {
      if (!GUARDS.has(g.name)) err(`${base}/guards/${k}/name`, 'UNKNOWN_GUARD', `unknown guard "${g.name}"`);
      else {
        const bad = blockParamsErrors('guard', g.name, g.params);
        if (bad) err(`${base}/guards/${k}/params`, 'BAD_BLOCK_PARAMS', `${g.name}: ${bad}`);
      }
    });
    (a.effects ?? []).forEach((e, k) => {
      if (!EFFECTS.has(e.name)) err(`${base}/effects/${k}/name`, 'UNKNOWN_EFFECT', `unknown effect "${e.name}"`);
      else {
        const bad = blockParamsErrors('effect', e.name, e.params);
        if (bad) err(`${base}/effects/${k}/params`, 'BAD_BLOCK_PARAMS', `${e.name}: ${bad}`);
      }
    });
    if (a.payloadSchema !== undefined) {
      try {
        payloadAjv.compile(a.payloadSchema);
      } catch (e) {
        err(`${base}/payloadSchema`, 'PAYLOAD_SCHEMA_INVALID', e instanceof Error ? e.message : String(e));
      }
    }
  });

  // --- timers
  const timerIds = new Set<string>();
  (def.timers ?? []).forEach((t, i) => validateTimer(t, i, { states, actions, finals, timerIds, err }));
  // startTimer / cancelTimers must name defined timers
  def.actions.forEach((a, i) =>
    (a.effects ?? []).forEach((e, k) => {
      const ids =
        e.name === 'startTimer' ? [e.params?.timerId] : e.name === 'cancelTimers' ? (e.params?.timerIds ?? []) : [];
      for (const id of ids as unknown[]) {
        if (typeof id === 'string' && !timerIds.has(id)) {
          err(`/actions/${i}/effects/${k}/params`, 'BAD_BLOCK_PARAMS', `${e.name}: unknown timer "${id}"`);
        }
      }
    }),
  );

  // --- approval steps
  def.states.forEach((s, i) => {
    if (s.approval) validateApproval(s, s.approval, `/states/${i}/approval`, { states, actions, finals, err });
  });

  // --- graph: reachability from entry states, and a path to a final state from every non-final state
  const edges = new Map<string, Set<string>>();
  const addEdge = (from: string, to: string): void => {
    if (!states.has(from) || !states.has(to)) return;
    let set = edges.get(from);
    if (!set) edges.set(from, (set = new Set()));
    set.add(to);
  };
  for (const a of def.actions) {
    const to = targetsOf(a);
    for (const f of a.from) addEdge(f, to(f));
  }
  for (const s of def.states) {
    if (!s.approval) continue;
    const onApproved = states.has(s.approval.onApproved)
      ? s.approval.onApproved
      : actions.get(s.approval.onApproved)?.to;
    if (onApproved) addEdge(s.id, onApproved);
    addEdge(s.id, s.approval.onRejected);
  }
  const entries = def.states.filter((s) => s.initial || s.entry).map((s) => s.id);
  const reachable = closure(entries, (s) => edges.get(s));
  const reverse = new Map<string, Set<string>>();
  for (const [from, tos] of edges) {
    for (const to of tos) {
      let set = reverse.get(to);
      if (!set) reverse.set(to, (set = new Set()));
      set.add(from);
    }
  }
  const reachesFinal = closure([...finals], (s) => reverse.get(s));
  if (entries.length > 0) {
    for (const [id, i] of stateIndex) {
      if (!reachable.has(id)) err(`/states/${i}`, 'UNREACHABLE_STATE', `state "${id}" cannot be reached`);
    }
  }
  if (finals.size > 0) {
    for (const [id, i] of stateIndex) {
      if (!finals.has(id) && !reachesFinal.has(id)) {
        err(`/states/${i}`, 'DEAD_END', `no final state can be reached from "${id}"`);
      }
    }
  }
  return { valid: errors.length === 0, errors };
}

function closure(start: string[], next: (s: string) => Iterable<string> | undefined): Set<string> {
  const seen = new Set(start);
  const queue = [...start];
  while (queue.length) {
    const s = queue.pop() as string;
    for (const n of next(s) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        queue.push(n);
      }
    }
  }
  return seen;
}

interface Ctx {
  states: Map<string, StateDef>;
  actions: Map<string, ActionDef>;
  finals: Set<string>;
  err: (path: string, code: ValidationErrorCode, message: string) => void;
}

function validateTimer(t: TimerDef, i: number, ctx: Ctx & { timerIds: Set<string> }): void {
  const base = `/timers/${i}`;
  const { err } = ctx;
  if (ctx.timerIds.has(t.id)) err(`${base}/id`, 'DUPLICATE_ID', `timer id "${t.id}" is already used`);
  ctx.timerIds.add(t.id);
  if (!ctx.states.has(t.state)) err(`${base}/state`, 'TIMER_UNKNOWN_STATE', `unknown state "${t.state}"`);
  else if (ctx.finals.has(t.state)) err(`${base}/state`, 'TIMER_UNKNOWN_STATE', `"${t.state}" is final`);
  const schedules = [
    t.after !== undefined,
    t.atFraction !== undefined,
    t.atDeadline === true,
    t.afterWorkingDays !== undefined,
    t.workingDaysBeforeDeadline !== undefined,
  ].filter(Boolean).length;
  if (schedules !== 1) {
    err(base, 'TIMER_BAD_SCHEDULE', 'a timer needs exactly one of after, atFraction, atDeadline, afterWorkingDays, workingDaysBeforeDeadline');
  } else if (t.after !== undefined && !parseDuration(t.after)) {
    err(`${base}/after`, 'TIMER_BAD_SCHEDULE', `"${t.after}" is not an ISO-8601 duration (e.g. PT2H, P3D)`);
  } else if (t.atFraction !== undefined && !(t.atFraction >= 0 && t.atFraction <= 1)) {
    err(`${base}/atFraction`, 'TIMER_BAD_SCHEDULE', 'atFraction must be between 0 and 1');
  }
  if (t.do.kind === 'action') {
    const action = t.do.action === undefined ? undefined : ctx.actions.get(t.do.action);
    if (!action) {
      err(`${base}/do/action`, 'TIMER_UNKNOWN_ACTION', `timer action "${t.do.action ?? ''}" is not a defined action`);
    } else if (!action.from.includes(t.state)) {
      err(`${base}/do/action`, 'TIMER_UNKNOWN_ACTION', `action "${action.id}" cannot be taken from "${t.state}"`);
    }
  }
}

function validateApproval(s: StateDef, a: ApprovalStepConfig, base: string, ctx: Ctx): void {
  const { err } = ctx;
  if (ctx.finals.has(s.id)) err(base, 'APPROVAL_ON_FINAL_STATE', `final state "${s.id}" cannot hold an approval step`);
  if (a.approvers.length === 0) err(`${base}/approvers`, 'APPROVAL_NO_APPROVERS', 'an approval step needs approvers');
  if (a.mode === 'single' && a.approvers.length > 1) {
    err(`${base}/approvers`, 'APPROVAL_BAD_APPROVERS', 'mode single takes exactly one approver');
  }
  const ids = a.approvers.flatMap((x) => ('userId' in x ? [x.userId] : []));
  if (new Set(ids).size !== ids.length)
    err(`${base}/approvers`, 'APPROVAL_BAD_APPROVERS', 'an approver is listed twice');
  if (a.mode === 'ratio') {
    if (a.ratio === undefined || !(a.ratio > 0 && a.ratio <= 1)) {
      err(`${base}/ratio`, 'APPROVAL_BAD_RATIO', 'ratio mode needs 0 < ratio <= 1');
    }
  } else if (a.ratio !== undefined) {
    err(`${base}/ratio`, 'APPROVAL_BAD_RATIO', `ratio is only meaningful in ratio mode, not ${a.mode}`);
  }
  const approvedAction = ctx.actions.get(a.onApproved);
  if (ctx.states.has(a.onApproved)) {
    if (a.onApproved === s.id) err(`${base}/onApproved`, 'APPROVAL_BAD_TARGET', 'onApproved cannot be the same state');
  } else if (!approvedAction) {
    err(`${base}/onApproved`, 'APPROVAL_BAD_TARGET', `"${a.onApproved}" is neither a state nor an action`);
  } else if (!approvedAction.from.includes(s.id)) {
    err(`${base}/onApproved`, 'APPROVAL_BAD_TARGET', `action "${a.onApproved}" cannot be taken from "${s.id}"`);
  } else if ((approvedAction.to ?? s.id) === s.id) {
    err(`${base}/onApproved`, 'APPROVAL_BAD_TARGET', `action "${a.onApproved}" does not leave "${s.id}"`);
  }
  if (!ctx.states.has(a.onRejected)) {
    err(`${base}/onRejected`, 'APPROVAL_BAD_TARGET', `onRejected "${a.onRejected}" is not a state`);
  } else if (a.onRejected === s.id) {
    err(`${base}/onRejected`, 'APPROVAL_BAD_TARGET', 'onRejected cannot be the same state');
  }
}

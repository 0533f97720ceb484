/**
 * The compiled form of a definition: lookups by id, per-state enter/exit plans and precompiled payload validators.
 * Compiled once per definition object (WeakMap cache), so `evaluate` does no parsing and no schema compilation.
 */
import type { ValidateFunction } from 'ajv';
import type { ActionDef, BlockRef, StateDef, TimerDef, WorkflowDefinition } from './definition.js';
import type { GuardBlock } from './registry.js';
import { GUARDS } from './registry.js';
import { createAjv } from './schema.js';
import type { DefinitionError } from './validate.js';
import { validateDefinition } from './validate.js';
import { parseDuration, type Duration } from './duration.js';

export interface CompiledGuard {
  name: string;
  block: GuardBlock;
  params: Record<string, unknown>;
}

export interface CompiledAction {
  def: ActionDef;
  id: string;
  label: string;
  from: ReadonlySet<string>;
  /** undefined: the action keeps the current state. */
  to: string | undefined;
  guards: CompiledGuard[];
  effects: BlockRef[];
  /** True when the effects mention startTimer, cancelTimers or extendDue (the slow path). */
  touchesTimers: boolean;
  validatePayload: ValidateFunction | null;
}

export interface CompiledTimer {
  def: TimerDef;
  after: Duration | null;
}

export interface CompiledState {
  def: StateDef;
  id: string;
  final: boolean;
  entry: boolean;
  actions: CompiledAction[];
  timers: CompiledTimer[];
  timerIds: string[];
}

export interface CompiledDefinition {
  readonly compiled: true;
  definition: WorkflowDefinition;
  key: string;
  initial: string;
  states: Map<string, CompiledState>;
  actions: Map<string, CompiledAction>;
  timers: Map<string, CompiledTimer>;
}

export class DefinitionInvalidError extends Error {
  readonly code = 'DEFINITION_INVALID';
  constructor(readonly errors: DefinitionError[]) {
    super(`invalid workflow definition: ${errors.map((e) => `${e.code} at ${e.path}: ${e.message}`).join('; ')}`);
    this.name = 'DefinitionInvalidError';
  }
}

const cache = new WeakMap<object, CompiledDefinition>();

export function isCompiled(d: WorkflowDefinition | CompiledDefinition): d is CompiledDefinition {
  return (d as CompiledDefinition).compiled === true;
}

/**
 * Validates and compiles a definition; throws `DefinitionInvalidError` when it is not valid. The result is cached
 * per definition object: treat definitions as immutable once compiled.
 */
export function compile(definition: WorkflowDefinition | CompiledDefinition): CompiledDefinition {
  if (isCompiled(definition)) return definition;
  const hit = cache.get(definition);
  if (hit) return hit;
  const { valid, errors } = validateDefinition(definition);
  if (!valid) throw new DefinitionInvalidError(errors);

  const ajv = createAjv();
  const actions = new Map<string, CompiledAction>();
  for (const a of definition.actions) {
    const effects = a.effects ?? [];
    actions.set(a.id, {
      def: a,
      id: a.id,
      label: a.label ?? a.id,
      from: new Set(a.from),
      to: a.to,
      guards: (a.guards ?? []).map((g) => ({
        name: g.name,
        block: GUARDS.get(g.name) as GuardBlock,
        params: g.params ?? {},
      })),
      effects,
      touchesTimers: effects.some(
        (e) => e.name === 'startTimer' || e.name === 'cancelTimers' || e.name === 'extendDue',
      ),
      validatePayload: a.payloadSchema === undefined ? null : ajv.compile(a.payloadSchema),
    });
  }
  const timers = new Map<string, CompiledTimer>();
  for (const t of definition.timers ?? []) {
    timers.set(t.id, { def: t, after: t.after === undefined ? null : parseDuration(t.after) });
  }
  const states = new Map<string, CompiledState>();
  let initial = '';
  for (const s of definition.states) {
    if (s.initial) initial = s.id;
    const stateTimers = [...timers.values()].filter((t) => t.def.state === s.id);
    states.set(s.id, {
      def: s,
      id: s.id,
      final: s.final === true,
      entry: s.initial === true || s.entry === true,
      actions: [...actions.values()].filter((a) => a.from.has(s.id)),
      timers: stateTimers,
      timerIds: stateTimers.map((t) => t.def.id),
    });
  }
  const compiled: CompiledDefinition = {
    compiled: true,
    definition,
    key: definition.key,
    initial,
    states,
    actions,
    timers,
  };
  cache.set(definition, compiled);
  return compiled;
}

/** True when the state is final (unknown states are not). */
export function isFinal(definition: WorkflowDefinition | CompiledDefinition, state: string): boolean {
  return compile(definition).states.get(state)?.final === true;
}

/** The states an instance may start in: the initial state first, then states marked `entry`. */
export function entryStates(definition: WorkflowDefinition | CompiledDefinition): string[] {
  const c = compile(definition);
  return [c.initial, ...[...c.states.values()].filter((s) => s.entry && s.id !== c.initial).map((s) => s.id)];
}

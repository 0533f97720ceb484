import {
  type Actor,
  compile,
  evaluate,
  type EvaluationResult,
  type InstanceFacts,
  type InstanceSnapshot,
  type Relation,
  refusalReason,
  startInstance,
  type WorkflowDefinition,
} from '@gridflow/engine';

/** Synthetic org units of a simulation: the owner under its superior, the assignee two levels below it. */
const UNITS = { ownerSuperior: 'sim-owner-superior', owner: 'sim-owner', aboveAssignee: 'sim-above-assignee', assignee: 'sim-assignee', other: 'sim-other' };

export interface SimulationStep {
  actor: { userId?: string; roles: string[]; relation: Relation | 'none' };
  action: string;
  payload?: Record<string, unknown>;
  /** Facts to set before this step (e.g. `{openChildren: 0}`). */
  facts?: InstanceFacts;
  /** Simulated time of the step (ISO 8601); defaults to one minute after the previous step. */
  at?: string;
}

export interface SimulationInput {
  steps: SimulationStep[];
  entryState?: string;
  dueAt?: string;
  facts?: InstanceFacts;
  /** Approvers by `role:relation`, e.g. `{"leader:ownerSuperior": ["u1", "u2", "u3"]}`. */
  directory?: Record<string, string[]>;
  startAt?: string;
}

export interface SimulationTraceEntry {
  step: number;
  action: string;
  actor: SimulationStep['actor'];
  ok: boolean;
  fromState: string | null;
  toState: string | null;
  effects: { name: string; params: Record<string, unknown> }[];
  timers: { start: { timerId: string; dueAt: string; workingDays?: { from: string; days: number } }[]; cancel: string[] };
  refusal?: { code: string; reason: string; message: string };
  approval?: unknown;
}

function unitFor(relation: SimulationStep['actor']['relation']): string {
  return relation === 'none' || relation === 'any' ? UNITS.other : UNITS[relation];
}

function trace(step: number, s: Pick<SimulationStep, 'action' | 'actor'>, r: EvaluationResult, fromState: string | null): SimulationTraceEntry {
  if (!r.ok) {
    return {
      step,
      action: s.action,
      actor: s.actor,
      ok: false,
      fromState,
      toState: null,
      effects: [],
      timers: { start: [], cancel: [] },
      refusal: { code: r.refusal.code, reason: refusalReason(r.refusal), message: r.refusal.message },
    };
  }
  return {
    step,
    action: s.action,
    actor: s.actor,
    ok: true,
    fromState: r.fromState,
    toState: r.nextState,
    effects: r.effects.map((e) => ({ name: e.name, params: e.params })),
    // a working-day timer's dueAt is a calendar-day estimate here; a task's timer is put on the working-day calendar
    timers: {
      start: r.timers.start.map((t) => ({ timerId: t.timerId, dueAt: t.dueAt, ...(t.workingDays ? { workingDays: t.workingDays } : {}) })),
      cancel: r.timers.cancel,
    },
    ...(r.approval ? { approval: r.approval } : {}),
  };
}

/**
 * A dry run of a definition: starts an instance and performs the steps in order with the given actors, returning
 * the trace of states, effects, timers and refusals. Pure: nothing is read or written.
 */
export function simulate(definition: WorkflowDefinition, input: SimulationInput): { finalState: string | null; trace: SimulationTraceEntry[] } {
  const compiled = compile(definition);
  let now = input.startAt ? Date.parse(input.startAt) : Date.UTC(2026, 0, 5, 1, 0, 0);
  const directory = input.directory ?? {};
  let instance: InstanceSnapshot = {
    state: '',
    version: 1,
    ownerOrgUnitId: UNITS.owner,
    assigneeOrgUnitId: UNITS.assignee,
    ownerParentOrgUnitId: UNITS.ownerSuperior,
    assigneeAncestorIds: [UNITS.ownerSuperior, UNITS.owner, UNITS.aboveAssignee],
    dueAt: input.dueAt ?? new Date(now + 7 * 86400_000).toISOString(),
    facts: { escrowBalanceFen: 100, openChildren: 0, progress: 0, missingPowers: [], ...(input.facts ?? {}) },
    approval: null,
  };
  const initiator: Actor = { userId: 'sim-initiator', orgUnitId: UNITS.owner, roles: ['leader'] };
  const out: SimulationTraceEntry[] = [];
  const started = startInstance(compiled, instance, initiator, now, { entryState: input.entryState, directory });
  out.push(trace(0, { action: 'start', actor: { userId: initiator.userId, roles: ['leader'], relation: 'owner' } }, started, null));
  if (!started.ok) return { finalState: null, trace: out };
  instance = { ...instance, state: started.nextState, approval: started.approval };

  input.steps.forEach((s, i) => {
    now = s.at ? Date.parse(s.at) : now + 60_000;
    if (s.facts) instance = { ...instance, facts: { ...instance.facts, ...s.facts } };
    const actor: Actor = { userId: s.actor.userId ?? `sim-user-${i + 1}`, orgUnitId: unitFor(s.actor.relation), roles: s.actor.roles };
    const r = evaluate(compiled, instance, actor, s.action, s.payload ?? {}, now, directory);
    out.push(trace(i + 1, s, r, instance.state));
    if (r.ok) instance = { ...instance, state: r.nextState, approval: r.approval, version: instance.version + 1 };
  });
  return { finalState: instance.state, trace: out };
}

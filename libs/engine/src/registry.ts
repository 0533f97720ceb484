/**
 * The registry of named, typed building blocks a definition may use. Guards are pure predicates; effects are
 * descriptors the engine returns and the shell applies (the engine does no I/O).
 */
import type { Actor, InstanceSnapshot, JsonSchema } from './definition.js';
import { NOTIFY_TARGETS } from './definition.js';

export interface GuardContext {
  instance: InstanceSnapshot;
  payload: Record<string, unknown>;
  actor: Actor;
  /** Epoch milliseconds. */
  now: number;
}

export interface GuardBlock {
  kind: 'guard';
  name: string;
  description: string;
  paramsSchema: JsonSchema;
  /** True when the guard reads the payload (then `availableActions` cannot evaluate it in advance). */
  usesPayload: boolean;
  /** True when the guard reads the clock (`availableActions` evaluates it only when given `now`). */
  usesNow?: boolean;
  test(ctx: GuardContext, params: Record<string, unknown>): boolean;
  failureMessage(params: Record<string, unknown>): string;
}

export interface EffectBlock {
  kind: 'effect';
  name: string;
  description: string;
  paramsSchema: JsonSchema;
}

export type BuildingBlock = GuardBlock | EffectBlock;

export interface BuildingBlockInfo {
  kind: 'guard' | 'effect';
  name: string;
  description: string;
  paramsSchema: JsonSchema;
  usesPayload?: boolean;
}

const NO_PARAMS: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const GUARD_LIST: GuardBlock[] = [
  {
    kind: 'guard',
    name: 'fundsAttached',
    description: 'The task escrow holds money (facts.escrowBalanceFen > 0).',
    paramsSchema: NO_PARAMS,
    usesPayload: false,
    test: ({ instance }) => (num(instance.facts.escrowBalanceFen) ?? 0) > 0,
    failureMessage: () => 'no funds are attached to the task',
  },
  {
    kind: 'guard',
    name: 'powersCover',
    description: 'Every power the work requires is held or granted (facts.missingPowers is empty).',
    paramsSchema: NO_PARAMS,
    usesPayload: false,
    test: ({ instance }) => Array.isArray(instance.facts.missingPowers) && instance.facts.missingPowers.length === 0,
    failureMessage: () => 'the powers the work requires are not all granted',
  },
  {
    kind: 'guard',
    name: 'childrenClosed',
    description: 'No child task is open (facts.openChildren === 0).',
    paramsSchema: NO_PARAMS,
    usesPayload: false,
    test: ({ instance }) => instance.facts.openChildren === 0,
    failureMessage: () => 'a child task is still open',
  },
  {
    kind: 'guard',
    name: 'payloadHas',
    description: 'The payload carries a non-empty value for `field`.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['field'],
      properties: { field: { type: 'string', minLength: 1 } },
    },
    usesPayload: true,
    test: ({ payload }, params) => {
      const v = payload[params.field as string];
      return v !== undefined && v !== null && v !== '';
    },
    failureMessage: (params) => `the payload must carry ${String(params.field)}`,
  },
  {
    kind: 'guard',
    name: 'progressAtLeast',
    description: 'Task progress (facts.progress) is at least `percent`.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['percent'],
      properties: { percent: { type: 'number', minimum: 0, maximum: 100 } },
    },
    usesPayload: false,
    test: ({ instance }, params) => (num(instance.facts.progress) ?? 0) >= (params.percent as number),
    failureMessage: (params) => `progress must be at least ${String(params.percent)}%`,
  },
  {
    kind: 'guard',
    name: 'notOverdue',
    description: 'The task is not past its due time (passes when the task has no due time).',
    paramsSchema: NO_PARAMS,
    usesPayload: false,
    usesNow: true,
    test: ({ instance, now }) => {
      if (!instance.dueAt) return true;
      const due = Date.parse(instance.dueAt);
      return Number.isNaN(due) || now <= due;
    },
    failureMessage: () => 'the task is overdue',
  },
  {
    kind: 'guard',
    name: 'extensionPending',
    description: 'An extension request awaits a decision (facts.pendingExtensionDueAt is set).',
    paramsSchema: NO_PARAMS,
    usesPayload: false,
    test: ({ instance }) => typeof instance.facts.pendingExtensionDueAt === 'string',
    failureMessage: () => 'no extension request is pending',
  },
];

const EFFECT_LIST: EffectBlock[] = [
  {
    kind: 'effect',
    name: 'escrowFunds',
    description: "Move the handoff's funding from the sender (escrow or budget) into the task escrow.",
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'refundEscrow',
    description: 'Return the whole task escrow balance to where it came from (the sender).',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'grantAuthority',
    description: 'Activate the grants attached to the handoff.',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'revokeGrants',
    description: 'Revoke every active grant of the task.',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'spawnChildren',
    description: 'Create the child tasks described by the payload (fan-out).',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'setProgress',
    description: 'Set task progress to params.percent, or to payload.percent when omitted.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { percent: { type: 'integer', minimum: 0, maximum: 100 } },
    },
  },
  {
    kind: 'effect',
    name: 'settleEscrow',
    description: "Return unspent escrow to the owner's escrow (or budget for a top-level task).",
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'notify',
    description: 'Send an in-app notification. The engine adds `userIds` for `approvers` (resolved approver user ids).',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['to', 'template'],
      properties: {
        to: { enum: [...NOTIFY_TARGETS] },
        template: { type: 'string', minLength: 1 },
      },
    },
  },
  {
    kind: 'effect',
    name: 'startTimer',
    description: '(Re)start a timer of the definition. Folded by the engine into `timers.start`.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['timerId'],
      properties: { timerId: { type: 'string', minLength: 1 } },
    },
  },
  {
    kind: 'effect',
    name: 'cancelTimers',
    description: 'Cancel the given timers, or every timer of the definition when omitted. Folded into `timers.cancel`.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { timerIds: { type: 'array', items: { type: 'string', minLength: 1 } } },
    },
  },
  {
    kind: 'effect',
    name: 'rollUpParent',
    description: "Recompute the parent task's weighted progress and children summary.",
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'countReturn',
    description: 'Count a return (by reason code from the payload) against the owner/assignee pair.',
    paramsSchema: NO_PARAMS,
  },
  { kind: 'effect', name: 'countRejection', description: 'Count a rejected submission.', paramsSchema: NO_PARAMS },
  {
    kind: 'effect',
    name: 'recordExtensionRequest',
    description: 'Record the requested due time (payload.dueAt) and reason as the pending extension request.',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'clearExtensionRequest',
    description: 'Clear the pending extension request (after it is approved or denied).',
    paramsSchema: NO_PARAMS,
  },
  {
    kind: 'effect',
    name: 'extendDue',
    description:
      'Move the task due time. The engine fills params.dueAt from payload.dueAt, else facts.pendingExtensionDueAt, ' +
      'and restarts the deadline-relative timers of the current state.',
    paramsSchema: NO_PARAMS,
  },
];

export const GUARDS: ReadonlyMap<string, GuardBlock> = new Map(GUARD_LIST.map((g) => [g.name, g]));
export const EFFECTS: ReadonlyMap<string, EffectBlock> = new Map(EFFECT_LIST.map((e) => [e.name, e]));

export function getGuard(name: string): GuardBlock | undefined {
  return GUARDS.get(name);
}

export function getEffect(name: string): EffectBlock | undefined {
  return EFFECTS.get(name);
}

/** Every building block, for editors and the API (guards first, then effects, each in registry order). */
export function listBuildingBlocks(): BuildingBlockInfo[] {
  return [
    ...GUARD_LIST.map((g) => ({
      kind: g.kind,
      name: g.name,
      description: g.description,
      paramsSchema: g.paramsSchema,
      usesPayload: g.usesPayload,
    })),
    ...EFFECT_LIST.map((e) => ({
      kind: e.kind,
      name: e.name,
      description: e.description,
      paramsSchema: e.paramsSchema,
    })),
  ];
}

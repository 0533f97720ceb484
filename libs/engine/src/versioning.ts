/** Versioning helpers: a content hash, a structural diff, and whether open instances can move to a version. */
import { createHash } from 'node:crypto';
import type { WorkflowDefinition } from './definition.js';

/** JSON with object keys sorted at every depth and `undefined` members dropped (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonicalize(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonicalize(v);
    }
    return out;
  }
  return value;
}

/** sha256 (hex) of the canonical JSON of the definition: equal for definitions that differ only in key order. */
export function definitionHash(definition: WorkflowDefinition | unknown): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

export interface CollectionDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface DefinitionDiff {
  identical: boolean;
  /** Top-level fields (key, name, description, …) whose values differ. */
  meta: string[];
  states: CollectionDiff;
  actions: CollectionDiff;
  timers: CollectionDiff;
}

function diffById(a: readonly { id: string }[] = [], b: readonly { id: string }[] = []): CollectionDiff {
  const left = new Map(a.map((x) => [x.id, canonicalJson(x)]));
  const right = new Map(b.map((x) => [x.id, canonicalJson(x)]));
  return {
    added: [...right.keys()].filter((id) => !left.has(id)),
    removed: [...left.keys()].filter((id) => !right.has(id)),
    changed: [...right.keys()].filter((id) => left.has(id) && left.get(id) !== right.get(id)),
  };
}

/** What changed from `a` to `b`, by id. */
export function diffDefinitions(a: WorkflowDefinition, b: WorkflowDefinition): DefinitionDiff {
  const skip = new Set(['states', 'actions', 'timers']);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !skip.has(k)).sort();
  const meta = keys.filter(
    (k) =>
      canonicalJson((a as unknown as Record<string, unknown>)[k]) !==
      canonicalJson((b as unknown as Record<string, unknown>)[k]),
  );
  const states = diffById(a.states, b.states);
  const actions = diffById(a.actions, b.actions);
  const timers = diffById(a.timers, b.timers);
  const empty = (d: CollectionDiff): boolean => !d.added.length && !d.removed.length && !d.changed.length;
  return { identical: !meta.length && empty(states) && empty(actions) && empty(timers), meta, states, actions, timers };
}

export interface MigrationCheck {
  ok: boolean;
  /** Distinct states open instances are in that the target definition lacks. */
  missingStates: string[];
}

/** Whether instances currently in `openStates` could move to the `target` definition (every state must exist). */
export function canMigrate(target: WorkflowDefinition, openStates: readonly string[]): MigrationCheck {
  const known = new Set(target.states.map((s) => s.id));
  const missingStates = [...new Set(openStates)].filter((s) => !known.has(s)).sort();
  return { ok: missingStates.length === 0, missingStates };
}

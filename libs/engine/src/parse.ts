/** Reading definitions from JSON or YAML text (or an already parsed object). */
import { parse as parseYaml } from 'yaml';
import type { WorkflowDefinition } from './definition.js';
import type { ValidationResult } from './validate.js';
import { validateDefinition } from './validate.js';

export class DefinitionParseError extends Error {
  readonly code = 'DEFINITION_PARSE_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'DefinitionParseError';
  }
}

/**
 * Parses a definition from JSON or YAML text; an object is returned as is. The result is not validated: pass it to
 * `validateDefinition` (or use `loadDefinition`). Throws `DefinitionParseError` on malformed text.
 */
export function parseDefinition(input: string | object): unknown {
  if (typeof input !== 'string') return input;
  const text = input.trim();
  try {
    if (text.startsWith('{')) return JSON.parse(text) as unknown;
    return parseYaml(text) as unknown;
  } catch (e) {
    throw new DefinitionParseError(`cannot parse workflow definition: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export type LoadResult = { ok: true; definition: WorkflowDefinition } | ({ ok: false } & ValidationResult);

/** Parses and validates; parse failures are reported as a SCHEMA error at the root. */
export function loadDefinition(input: string | object): LoadResult {
  let parsed: unknown;
  try {
    parsed = parseDefinition(input);
  } catch (e) {
    return { ok: false, valid: false, errors: [{ path: '', code: 'SCHEMA', message: (e as Error).message }] };
  }
  const result = validateDefinition(parsed);
  return result.valid ? { ok: true, definition: parsed as WorkflowDefinition } : { ok: false, ...result };
}

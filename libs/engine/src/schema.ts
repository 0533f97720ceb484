/**
 * The published JSON Schema of the definition language, and the Ajv factory the engine uses for it and for
 * action payload schemas.
 */
import { Ajv } from 'ajv';
import { APPROVAL_MODES, NOTIFY_TARGETS, RELATIONS, ROLES, TIMER_KINDS } from './definition.js';
import { isDuration } from './duration.js';

const ID = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]*$', maxLength: 64 };
const LABEL = { type: 'string', maxLength: 200 };
const BLOCK_REF = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, params: { type: 'object' } },
};
const ACTOR_SPEC = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'relation'],
  properties: { role: { enum: [...ROLES] }, relation: { enum: [...RELATIONS] } },
};

export const WORKFLOW_DEFINITION_SCHEMA_ID = 'https://gridflow.local/schemas/workflow-definition.json';

/** JSON Schema (draft-07) of a workflow definition. Cross-references are checked by `validateDefinition`. */
export const WORKFLOW_DEFINITION_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: WORKFLOW_DEFINITION_SCHEMA_ID,
  title: 'Gridflow workflow definition',
  type: 'object',
  additionalProperties: false,
  required: ['key', 'name', 'states', 'actions'],
  properties: {
    $schema: { type: 'string' },
    key: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', maxLength: 64 },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string' },
    version: { type: 'integer', minimum: 1 },
    states: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: ID,
          label: LABEL,
          initial: { const: true },
          entry: { const: true },
          final: { const: true },
          approval: {
            type: 'object',
            additionalProperties: false,
            required: ['mode', 'approvers', 'onApproved', 'onRejected'],
            properties: {
              mode: { enum: [...APPROVAL_MODES] },
              ratio: { type: 'number' },
              approvers: {
                type: 'array',
                items: {
                  oneOf: [
                    {
                      type: 'object',
                      additionalProperties: false,
                      required: ['userId'],
                      properties: { userId: { type: 'string', minLength: 1 } },
                    },
                    ACTOR_SPEC,
                  ],
                },
              },
              onApproved: { type: 'string', minLength: 1 },
              onRejected: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
    actions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'from', 'actors'],
        properties: {
          id: ID,
          label: LABEL,
          from: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          to: { type: 'string', minLength: 1 },
          actors: { type: 'array', items: ACTOR_SPEC },
          guards: { type: 'array', items: BLOCK_REF },
          effects: { type: 'array', items: BLOCK_REF },
          payloadSchema: { type: ['object', 'boolean'] },
          kind: { const: 'transition' },
        },
      },
    },
    timers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'state', 'do'],
        properties: {
          id: ID,
          state: { type: 'string', minLength: 1 },
          after: { type: 'string' },
          atFraction: { type: 'number' },
          atDeadline: { const: true },
          afterWorkingDays: { type: 'integer', minimum: 1, maximum: 250 },
          workingDaysBeforeDeadline: { type: 'integer', minimum: 1, maximum: 250 },
          do: {
            type: 'object',
            additionalProperties: false,
            required: ['kind'],
            properties: {
              kind: { enum: [...TIMER_KINDS] },
              action: { type: 'string', minLength: 1 },
              level: { type: 'integer', minimum: 1 },
              to: { enum: [...NOTIFY_TARGETS] },
              template: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
  },
} as const;

const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})$/;

/** A fresh Ajv with the options the engine uses and the formats payloads commonly need. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('date-time', (s: string) => DATE_TIME_RE.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat('date', (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat('duration', (s: string) => isDuration(s));
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  return ajv;
}

import { describe, it, expect } from '@jest/globals';
import {
  DefinitionParseError,
  addDuration,
  canMigrate,
  canonicalJson,
  definitionHash,
  diffDefinitions,
  loadDefinition,
  parseDefinition,
  parseDuration,
  validateDefinition,
} from './index.js';
import { threeStep } from './__fixtures__/fixtures.js';

describe('definitionHash', () => {
  it('is the sha256 of canonical JSON: key order does not matter, content does', () => {
    const a = threeStep();
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseKeys(x)]),
            )
          : v;
    const reordered = reverseKeys(a) as typeof a;
    expect(Object.keys(reordered)).toEqual(Object.keys(a).reverse());
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}',
    );
    expect(definitionHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionHash(reordered)).toBe(definitionHash(a));
    const b = threeStep();
    b.name = 'Renamed';
    expect(definitionHash(b)).not.toBe(definitionHash(a));
  });
});

describe('diffDefinitions', () => {
  it('reports added, removed and changed states, actions and timers', () => {
    const a = threeStep();
    const b = threeStep();
    b.description = 'v2';
    b.states.push({ id: 'archived', final: true });
    b.actions = b.actions.filter((x) => x.id !== 'go2');
    b.actions.push({ id: 'skip', from: ['step1'], to: 'done', actors: [{ role: 'leader', relation: 'owner' }] });
    b.actions[0] = { ...b.actions[0], label: 'Go!' };
    b.timers = [{ id: 't1', state: 'step1', after: 'PT1H', do: { kind: 'remind' } }];
    expect(diffDefinitions(a, b)).toEqual({
      identical: false,
      meta: ['description'],
      states: { added: ['archived'], removed: [], changed: [] },
      actions: { added: ['skip'], removed: ['go2'], changed: ['go1'] },
      timers: { added: ['t1'], removed: [], changed: [] },
    });
    expect(diffDefinitions(a, threeStep()).identical).toBe(true);
  });
});

describe('canMigrate', () => {
  it('lists the open states the target version lacks', () => {
    const target = threeStep();
    expect(canMigrate(target, ['start', 'step2', 'start'])).toEqual({ ok: true, missingStates: [] });
    expect(canMigrate(target, ['step1', 'legacy_review', 'paused', 'legacy_review'])).toEqual({
      ok: false,
      missingStates: ['legacy_review', 'paused'],
    });
  });
});

describe('parseDefinition / loadDefinition', () => {
  const yamlText = `
key: yaml-flow
name: YAML 流程
states:
  - { id: open, initial: true }
  - { id: shut, final: true }
actions:
  - id: close
    from: [open]
    to: shut
    actors: [{ role: leader, relation: owner }]
`;

  it('accepts YAML and JSON text, and objects as they are', () => {
    const fromYaml = parseDefinition(yamlText);
    expect(validateDefinition(fromYaml)).toEqual({ valid: true, errors: [] });
    expect(parseDefinition(JSON.stringify(fromYaml))).toEqual(fromYaml);
    const obj = threeStep();
    expect(parseDefinition(obj)).toBe(obj);
    expect(() => parseDefinition('{ "key": ')).toThrow(DefinitionParseError);
    expect(() => parseDefinition('key: [unclosed')).toThrow(DefinitionParseError);
  });

  it('loadDefinition parses and validates in one go', () => {
    expect(loadDefinition(yamlText)).toMatchObject({ ok: true, definition: { key: 'yaml-flow' } });
    const bad = loadDefinition('key: x');
    expect(bad).toMatchObject({ ok: false, valid: false });
    if (!bad.ok) expect(bad.errors.map((e) => [e.code, e.path])).toContainEqual(['SCHEMA', '/states']);
    expect(loadDefinition('{ nope')).toMatchObject({ ok: false, errors: [{ code: 'SCHEMA', path: '' }] });
  });
});

describe('ISO-8601 durations', () => {
  it('parses and adds durations in UTC', () => {
    expect(parseDuration('PT2H')).toMatchObject({ hours: 2, days: 0 });
    expect(parseDuration('P3D')).toMatchObject({ days: 3 });
    expect(parseDuration('P1Y2M1W4DT5H6M7.5S')).toEqual({
      years: 1,
      months: 2,
      weeks: 1,
      days: 4,
      hours: 5,
      minutes: 6,
      seconds: 7.5,
    });
    for (const bad of ['', 'P', 'PT', '2H', 'PT2', 'P1H', 'PT-1H', 'P1DT']) expect(parseDuration(bad)).toBeNull();
    const t0 = Date.parse('2025-01-31T10:00:00.000Z');
    expect(new Date(addDuration(t0, parseDuration('P1M')!)).toISOString()).toBe('2025-03-03T10:00:00.000Z');
    expect(new Date(addDuration(t0, parseDuration('P1DT12H30M')!)).toISOString()).toBe('2025-02-01T22:30:00.000Z');
  });
});

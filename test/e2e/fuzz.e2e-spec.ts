import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Response } from 'supertest';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { dbFingerprint } from '../helpers/fingerprint.js';
import { expectLedgerInvariants } from '../helpers/invariants.js';

/**
 * Property-based fuzzing of request bodies and query strings (issue 6, "Fuzzing and security suites"). For every
 * endpoint: never a 5xx; every error is `{statusCode, code, message, details?, correlationId}` with statusCode equal
 * to the HTTP status; and a refused request writes nothing (a fingerprint of the mutable tables is unchanged).
 *
 * The seed is fixed so that CI runs are reproducible; set FUZZ_SEED to explore other inputs locally.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20260614);
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
/** Per-test budget: the project's testTimeout does not reach tests run with --selectProjects. */
const TEST_MS = 45_000;
// on a slow machine a property stops early (and passes with the runs it made) instead of timing the test out
const params = (numRuns = RUNS) => ({ seed: SEED, numRuns, endOnFailure: true, interruptAfterTimeLimit: 30_000 });

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------------------

/** Any value made JSON-safe (fc.anything can hold undefined, -0, NaN, sparse arrays, null-prototype objects…). */
const jsonSafe = (v: unknown): unknown => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? null : (JSON.parse(s) as unknown);
  } catch {
    return null;
  }
};

const longString = fc.constantFrom('x'.repeat(201), 'é'.repeat(600), 'a'.repeat(10_001), '中'.repeat(5000));
const nastyString = fc.constantFrom(
  '',
  ' ',
  "' OR 1=1 --",
  '"; DROP TABLE tasks; --',
  '%',
  '_',
  '\\',
  '\u0000',
  '\uD800',
  '👩‍👩‍👧‍👦',
  '𠜎𠜱𠝹',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '2026-13-45T99:99:99Z',
  '1e309',
  'NaN',
  'true',
  'null',
  '__proto__',
  'constructor',
);
const weirdNumber = fc.constantFrom(
  0,
  -0,
  -1,
  0.5,
  -0.01,
  1.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e13,
  1e13 + 1,
  1e21,
  1e300,
  -1e300,
  Number.MIN_VALUE,
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  weirdNumber,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  nastyString,
  longString,
);
/** Wrong-typed values for a field: scalars, arrays, objects, arbitrary JSON. */
const wild: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/**
 * An object with the endpoint's keys: all plausible, or plausible but for one wrong-typed field, or a free mix with
 * some keys missing — so that most requests get past validation into the use case.
 */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(fields);
  if (!keys.length) return fc.constant({});
  const good = fc.record(fields) as fc.Arbitrary<Record<string, unknown>>;
  const mixed: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, g] of Object.entries(fields))
    mixed[k] = fc.oneof({ weight: 3, arbitrary: g }, { weight: 2, arbitrary: wild });
  return fc.oneof(
    { weight: 2, arbitrary: good },
    { weight: 3, arbitrary: fc.tuple(good, fc.constantFrom(...keys), wild).map(([o, k, v]) => ({ ...o, [k]: v })) },
    { weight: 2, arbitrary: fc.record(mixed, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>> },
  );
}

/** A path segment; a lone surrogate cannot be percent-encoded, so it becomes a malformed escape instead. */
const seg = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%E0%A4%A';
  }
};

/** Prototype-pollution attempts: own `__proto__` / `constructor` keys (JSON.parse makes them own properties). */
function polluted(base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.jsonValue({ maxDepth: 2 }))
    .map(([obj, key, v]) => {
      const json = JSON.stringify(obj);
      const inner = key === 'constructor' ? { prototype: { isAdmin: true, v } } : { isAdmin: true, polluted: v };
      const extra = `${JSON.stringify(key)}:${JSON.stringify(inner)}`;
      return json === '{}' ? `{${extra}}` : `{${extra},${json.slice(1)}`;
    });
}

/** A raw JSON request body for an endpoint whose body should look like `fields`. */
function bodyArb(
  fields: Record<string, fc.Arbitrary<unknown>>,
  nested?: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<string> {
  const shape = nested ?? shaped(fields);
  return fc.oneof(
    { weight: 4, arbitrary: shape.map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: polluted(shape) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(jsonSafe(v))) },
    { weight: 1, arbitrary: fc.array(shape, { minLength: 1, maxLength: 2 }).map((v) => JSON.stringify(v)) },
  );
}

const uuid = fc.uuid();
const futureDate = fc.integer({ min: 1, max: 25 }).map(inDays);
const isoDate = fc.oneof(
  fc.integer({ min: 1, max: 30 }).map(inDays),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-02-30T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '0000-01-01T00:00:00Z',
    '2026-01-01',
    '2026-01-01 00:00:00',
  ),
);

// ---------------------------------------------------------------------------------------------------------------

describe('fuzzing request bodies and queries (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let dept: Session; // xh-cgj leader
  let jd1Id: string;
  let jd2Id: string;
  let gridId: string;
  const failures: string[] = [];
  const stats = new Map<string, Record<number, number>>();

  const fingerprint = () => dbFingerprint(t);

  /** Sends one request (raw JSON body) and checks the three properties. */
  async function probe(
    method: 'post' | 'put' | 'get',
    url: string,
    s: Session | null,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const before = await fingerprint();
    let req = t.http()[method](url);
    if (s) req = req.set(s.auth);
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    const res = body === undefined ? await req : await req.set('Content-Type', 'application/json').send(body);
    const where = `${method.toUpperCase()} ${url.slice(0, 200)} ${String(body).slice(0, 300)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    const label = `${method.toUpperCase()} ${url
      .replace(/[0-9a-f-]{36}/g, ':id')
      .split('?')[0]
      .slice(0, 60)}`;
    const st = stats.get(label) ?? {};
    st[res.status] = (st[res.status] ?? 0) + 1;
    stats.set(label, st);
    if (res.status >= 500) failures.push(where);
    expect({ where, status: res.status < 500 }).toEqual({ where, status: true });
    if (res.status >= 400) {
      expect({ where, body: res.body as unknown }).toEqual({
        where,
        body: {
          statusCode: res.status,
          code: expect.stringMatching(/^[A-Z][A-Z0-9_]+$/),
          message: expect.any(String),
          correlationId: expect.any(String),
          ...((res.body as { details?: unknown }).details !== undefined ? { details: expect.anything() } : {}),
        },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/node_modules|\bat .*\.[jt]s:\d+|SELECT |\bER_[A-Z_]+/);
    }
    if (res.status < 200 || res.status >= 300)
      expect({ where, after: await fingerprint() }).toEqual({ where, after: before });
    return res;
  }

  const newDeptTask = async (fundingFen: number) => {
    const res = await t
      .http()
      .post('/api/v1/tasks')
      .set(dept.auth)
      .send({
        title: '占道经营整治（模糊测试）',
        categoryCode: 'STREET_VENDOR_RECTIFICATION',
        dueAt: inDays(30),
        fundingFen,
      });
    if (res.status !== 201) throw new Error(`task: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };

  beforeAll(async () => {
    t = await createTestApp();
    [admin, dept] = await Promise.all([login(t, 'admin'), login(t, 'xh-cgj-leader')]);
    [jd1Id, jd2Id, gridId] = await Promise.all([unitId(t, 'xh-jd1'), unitId(t, 'xh-jd2'), unitId(t, 'xh-jd2-sq3-wg3')]);
  }, TEST_MS);
  afterAll(async () => {
    if (process.env.FUZZ_VERBOSE) console.log([...stats].map(([k, v]) => `${k} ${JSON.stringify(v)}`).join('\n'));
    if (failures.length) console.error(`fuzz 5xx:\n${failures.join('\n')}`);
    await t.close();
  });

  it(
    'POST /tasks',
    async () => {
      const body = bodyArb({
        title: fc.string({ minLength: 1, maxLength: 30 }).filter((x) => x.trim().length > 0),
        categoryCode: fc.constantFrom('STREET_VENDOR_RECTIFICATION', 'LANDSCAPE_RECTIFICATION', 'NO_SUCH_CATEGORY'),
        dueAt: futureDate,
        fundingFen: fc.integer({ min: 0, max: 100 }),
        description: fc.string({ maxLength: 50 }),
        weight: fc.integer({ min: 1, max: 1000 }),
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          await probe('post', '/api/v1/tasks', dept, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /tasks/:id/handoffs',
    async () => {
      const parent = await newDeptTask(100_000);
      const grant = shaped({
        powerCode: fc.constantFrom('ORDER_RECTIFICATION', 'ORDER_RECTIFICATION', 'CREW_COMMAND', 'NOPE'),
        scopeOrgUnitId: fc.oneof(fc.constant(jd1Id), fc.constant(jd2Id), uuid),
        capFen: fc.integer({ min: 0, max: 100 }),
        validUntil: futureDate,
      });
      const goodGrant = fc.record({ powerCode: fc.constant('ORDER_RECTIFICATION') });
      const itemFields = {
        assigneeOrgUnitId: fc.oneof(fc.constant(jd1Id), fc.constant(jd2Id), fc.constant(gridId), uuid),
        title: fc.string({ minLength: 1, maxLength: 30 }).filter((x) => x.trim().length > 0),
        dueAt: futureDate,
        fundingFen: fc.integer({ min: 1, max: 50 }),
        grants: fc.array(fc.oneof({ weight: 3, arbitrary: goodGrant }, { weight: 1, arbitrary: grant }), {
          maxLength: 2,
        }),
        terms: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
        weight: fc.integer({ min: 1, max: 1000 }),
      };
      // mostly well-formed items, so that requests reach the handoff rules
      const item = fc.oneof(
        { weight: 3, arbitrary: fc.record(itemFields) },
        { weight: 1, arbitrary: shaped(itemFields) },
      );
      const handoffs = { handoffs: fc.array(item, { minLength: 1, maxLength: 3 }) };
      const body = bodyArb(
        {},
        fc.oneof({ weight: 3, arbitrary: fc.record(handoffs) }, { weight: 1, arbitrary: shaped(handoffs) }),
      );
      const id = fc.oneof({ weight: 8, arbitrary: fc.constant(parent) }, { weight: 1, arbitrary: uuid });
      await fc.assert(
        fc.asyncProperty(id, body, async (taskId, b) => {
          await probe('post', `/api/v1/tasks/${taskId}/handoffs`, dept, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /tasks/:id/actions/:action (bodies, action names, If-Match)',
    async () => {
      const taskId = await newDeptTask(1000);
      const action = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            'report-progress',
            'submit',
            'accept',
            'return',
            'approve',
            'reject',
            'urge',
            'request-extension',
            'agree',
            'decline',
          ),
        },
        { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 80 }) },
        { weight: 1, arbitrary: nastyString.filter((s) => s.trim().length > 0) },
      );
      const body = bodyArb({
        percent: fc.oneof(fc.integer({ min: -10, max: 110 }), weirdNumber),
        note: fc.string({ maxLength: 30 }),
        summary: fc.string({ maxLength: 30 }),
        comment: fc.string({ maxLength: 30 }),
        reasonCode: fc.string({ maxLength: 30 }),
        dueAt: isoDate,
        reason: fc.string({ maxLength: 30 }),
      });
      const ifMatch = fc.option(
        fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.nat(20).map((n) => `"${n}"`),
          fc.constantFrom('W/"1"', '"99999999999"', '*'),
        ),
        {
          nil: undefined,
        },
      );
      await fc.assert(
        fc.asyncProperty(action, body, ifMatch, async (a, b, m) => {
          await probe(
            'post',
            `/api/v1/tasks/${taskId}/actions/${seg(a)}`,
            dept,
            b,
            m === undefined ? {} : { 'If-Match': m },
          );
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /tasks/:id/expenses',
    async () => {
      const taskId = await newDeptTask(100_000);
      const body = bodyArb({
        amountFen: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: -1000, max: 0 })),
        payee: fc.string({ minLength: 1, maxLength: 30 }).filter((x) => x.trim().length > 0),
        note: fc.string({ maxLength: 30 }),
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          await probe('post', `/api/v1/tasks/${taskId}/expenses`, dept, b);
        }),
        params(),
      );
      await expectLedgerInvariants(t);
    },
    TEST_MS,
  );

  it(
    'GET /tasks with random query strings and cursors',
    async () => {
      const cursor = fc.oneof(
        fc.string({ maxLength: 40 }),
        fc
          .record({
            dueAt: fc.oneof(fc.string({ maxLength: 30 }), isoDate, nastyString),
            id: fc.oneof(uuid, fc.string({ maxLength: 40 }), nastyString),
          })
          .map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
        wild.map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
      );
      const value = fc.oneof(
        fc.constantFrom(
          'inbox',
          'issued',
          'all',
          'in_progress',
          'closed',
          'true',
          'false',
          '1',
          '0',
          '-1',
          '200',
          '201',
          '1e3',
          'STREET_VENDOR_RECTIFICATION',
        ),
        fc.string({ maxLength: 20 }),
        nastyString,
        cursor,
      );
      const query = fc.array(
        fc.tuple(
          fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom('view', 'state', 'categoryCode', 'overdue', 'limit', 'cursor') },
            { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
          ),
          value,
        ),
        { maxLength: 6 },
      );
      await fc.assert(
        fc.asyncProperty(query, async (pairs) => {
          // past Node's 16 KB header limit the HTTP parser answers 431 itself
          const qs = new URLSearchParams(pairs).toString().slice(0, 8000);
          const res = await probe('get', `/api/v1/tasks?${qs}`, dept);
          expect([200, 400]).toContain(res.status);
        }),
        params(80),
      );
    },
    TEST_MS,
  );

  it(
    'POST /catalog/categories with timer policies (admin)',
    async () => {
      const timer = fc.record(
        {
          id: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{1,12}$/), fc.constantFrom('progress-reminder', 'acceptance-reminder', '')),
          state: fc.constantFrom('in_progress', 'pending_acceptance', 'closed', 'nowhere', ''),
          after: fc.constantFrom('PT1H', 'P2D', 'soon', ''),
          atFraction: fc.oneof(fc.double({ min: -1, max: 2, noNaN: true }), fc.constant(0.5)),
          afterWorkingDays: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constant(1.5)),
          workingDaysBeforeDeadline: fc.integer({ min: -2, max: 300 }),
          do: fc.oneof(
            fc.record({ kind: fc.constantFrom('remind', 'escalate', 'action', 'explode'), level: fc.integer({ min: -1, max: 5 }) }, { requiredKeys: ['kind'] }),
            fc.jsonValue({ maxDepth: 2 }),
          ),
        },
        { requiredKeys: [] },
      );
      const policy = fc.oneof(
        { weight: 6, arbitrary: fc.record({ off: fc.array(fc.oneof(fc.constantFrom('progress-reminder', 'deadline-escalation', 'nope'), fc.integer()), { maxLength: 3 }), timers: fc.array(timer, { maxLength: 3 }) }, { requiredKeys: [] }) },
        { weight: 1, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
      );
      const body = bodyArb({
        // mostly well-formed, so the policy reaches the check against the workflow
        code: fc.oneof({ weight: 6, arbitrary: fc.stringMatching(/^FZ_[A-Z0-9]{4,12}$/) }, { weight: 1, arbitrary: fc.constantFrom('STREET_VENDOR_RECTIFICATION', 'fz_lower') }),
        name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('模糊类别', 'fuzz category') }, { weight: 1, arbitrary: longString }, { weight: 1, arbitrary: nastyString }),
        ownerOrgUnitId: fc.oneof({ weight: 6, arbitrary: fc.constant(jd2Id) }, { weight: 1, arbitrary: uuid }),
        requiredPowerCodes: fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('ORDER_RECTIFICATION', 'NO_SUCH_POWER', 'bad code'), { maxLength: 2 }) }),
        onCommunityAccessList: fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant('yes') }),
        workflowKey: fc.oneof({ weight: 6, arbitrary: fc.constant('handoff') }, { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', 'Bad Key') }),
        timerPolicy: policy,
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          await probe('post', '/api/v1/catalog/categories', admin, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /workflows/:key/simulate (admin): any steps, facts and times, never a 5xx, never a write',
    async () => {
      const actor = fc.record(
        {
          userId: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('u1', 'u2') }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
          roles: fc.oneof({ weight: 20, arbitrary: fc.subarray(['leader', 'staff', 'grid_worker', 'admin']) }, { weight: 1, arbitrary: fc.constant(['king']) }),
          relation: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('owner', 'assignee', 'ownerSuperior', 'aboveAssignee', 'any', 'none') }, { weight: 1, arbitrary: fc.constant('friend') }),
        },
        { requiredKeys: ['roles', 'relation'] },
      );
      const step = fc.record(
        {
          actor,
          action: fc.oneof(
            { weight: 20, arbitrary: fc.constantFrom('accept', 'return', 'report-progress', 'submit', 'approve', 'reject', 'request-extension', 'approve-extension', 'cancel', 'urge') },
            { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 70 }), nastyString) },
          ),
          payload: fc.oneof({ weight: 20, arbitrary: fc.record({ percent: fc.integer({ min: -10, max: 200 }), reasonCode: fc.constantFrom('NOT_OUR_DUTY', 'X'), comment: fc.string({ maxLength: 5 }), dueAt: isoDate, reason: fc.string({ maxLength: 5 }) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
          facts: fc.oneof({ weight: 20, arbitrary: fc.record({ escrowBalanceFen: fc.integer(), openChildren: fc.integer({ min: -1, max: 5 }), progress: fc.integer({ min: -1, max: 101 }), missingPowers: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }), pendingExtensionDueAt: fc.oneof(fc.constant(null), isoDate) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
          at: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        },
        { requiredKeys: ['actor', 'action'] },
      );
      const body = bodyArb({
        steps: fc.oneof({ weight: 20, arbitrary: fc.array(step, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
        version: fc.oneof({ weight: 20, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: -1, max: 99 }) }),
        entryState: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('pending_acceptance', 'in_progress', 'in_consultation') }, { weight: 1, arbitrary: fc.constantFrom('closed', 'nowhere', '') }),
        dueAt: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        startAt: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        facts: fc.oneof({ weight: 20, arbitrary: fc.record({ escrowBalanceFen: fc.integer(), openChildren: fc.integer({ min: 0, max: 3 }) }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
        directory: fc.oneof({ weight: 20, arbitrary: fc.record({ 'leader:owner': fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }) }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
      });
      const key = fc.oneof({ weight: 20, arbitrary: fc.constantFrom('handoff', 'approval-countersign') }, { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', '%2e%2e', 'a'.repeat(300)) });
      await fc.assert(
        fc.asyncProperty(key, body, async (k, b) => {
          const before = await fingerprint();
          const res = await probe('post', `/api/v1/workflows/${k}/simulate`, admin, b);
          // a simulation writes nothing, successful or not
          expect({ k, b, after: await fingerprint() }).toEqual({ k, b, after: before });
          return res.status < 500;
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'PUT /calendar/:year (admin, a year no other suite uses)',
    async () => {
      const day = fc.record(
        {
          date: fc.oneof(
            fc.integer({ min: 1, max: 365 }).map((n) => new Date(Date.UTC(2033, 0, n)).toISOString().slice(0, 10)),
            fc.constantFrom('2033-02-30', '2032-12-31', '2033-1-1', '', 'tomorrow'),
          ),
          kind: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('holiday', 'workday') }, { weight: 1, arbitrary: fc.constant('party') }),
          name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('春节', '调休上班') }, { weight: 1, arbitrary: longString }, { weight: 1, arbitrary: nastyString }),
        },
        { requiredKeys: ['date', 'kind'] },
      );
      const body = bodyArb({
        days: fc.oneof({ weight: 6, arbitrary: fc.array(day, { maxLength: 6 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
        note: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('模糊测试', 'fuzz') }, { weight: 1, arbitrary: longString }),
      });
      const year = fc.oneof({ weight: 6, arbitrary: fc.constant('2033') }, { weight: 1, arbitrary: fc.constantFrom('1999', 'abc', '99999') });
      await fc.assert(
        fc.asyncProperty(year, body, async (y, b) => {
          await probe('put', `/api/v1/calendar/${y}`, admin, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /org-units (admin)',
    async () => {
      const body = bodyArb({
        code: fc.oneof(fc.stringMatching(/^fz[a-z0-9-]{2,10}$/), fc.constantFrom('xh-jd1', 'xh')),
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), longString),
        kind: fc.constantFrom('community', 'grid', 'street', 'district', 'village'),
        // never a unit whose subtree other suites count
        parentId: fc.oneof(fc.constant(gridId), fc.constant(jd2Id), uuid),
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          await probe('post', '/api/v1/org-units', admin, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /users (admin)',
    async () => {
      const body = bodyArb({
        username: fc.oneof(fc.stringMatching(/^fz[a-z0-9._-]{2,10}$/), fc.constantFrom('admin', 'ADMIN', 'xh-audit')),
        displayName: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), longString),
        orgUnitId: fc.oneof(fc.constant(gridId), uuid),
        roles: fc.oneof(
          fc.subarray(['admin', 'leader', 'staff', 'grid_worker', 'auditor'], { minLength: 1 }),
          fc.array(fc.string({ maxLength: 8 })),
        ),
        password: fc.oneof(fc.string({ minLength: 10, maxLength: 20 }), fc.string({ maxLength: 9 }), longString),
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          await probe('post', '/api/v1/users', admin, b);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'PUT /workflows/:key/draft and POST /workflows/:key/validate (admin)',
    async () => {
      // a workflow of this suite's own, so no other suite sees its draft change
      const handoff = await t.http().get('/api/v1/workflows/handoff').set(admin.auth);
      expect(handoff.status).toBe(200);
      const base = { ...(handoff.body.draft as Record<string, unknown>), key: 'fuzz-flow', name: 'fuzz' };
      const created = await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: base });
      expect(created.status).toBe(201);

      const definition = fc.oneof(
        wild,
        fc.jsonValue({ maxDepth: 4 }),
        fc.string({ maxLength: 200 }),
        fc.constantFrom(
          'key: [unclosed',
          '!!js/function "x"',
          '&a [*a]',
          'a: &a\n  b: *a',
          '{"states": {}}',
          JSON.stringify(base),
        ),
        // the real definition with one field replaced
        fc.tuple(fc.constantFrom(...Object.keys(base)), wild).map(([k, v]) => ({ ...base, [k]: v })),
      );
      const body = bodyArb({}, shaped({ definition }));
      const key = fc.oneof(
        { weight: 6, arbitrary: fc.constant('fuzz-flow') },
        { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 70 }) },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('put', 'post' as const), key, body, async (verb, k, b) => {
          const path = verb === 'put' ? `/api/v1/workflows/${seg(k)}/draft` : `/api/v1/workflows/${seg(k)}/validate`;
          await probe(verb, path, admin, b);
        }),
        params(60),
      );
    },
    TEST_MS,
  );

  it(
    'POST /auth/login',
    async () => {
      const seeded = new Set(
        (await t.ds.query('SELECT username FROM users')).map((r: { username: string }) => r.username.toLowerCase()),
      );
      const body = bodyArb({
        // never a real username: failures count towards its lockout
        username: fc
          .oneof(fc.string({ minLength: 1, maxLength: 30 }), longString, nastyString)
          .filter((u) => !seeded.has(u.toLowerCase().trim())),
        password: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), longString),
      });
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          const res = await probe('post', '/api/v1/auth/login', null, b);
          expect([400, 401, 413, 429]).toContain(res.status);
        }),
        params(40),
      );
    },
    TEST_MS,
  );

  it(
    'POST /org-units/:id/budget/credits (admin)',
    async () => {
      const target = await unitId(t, 'xh-jd2-sq3');
      const body = bodyArb({
        amountFen: fc.oneof(fc.integer({ min: 1, max: 100 }), weirdNumber, fc.integer({ min: -1000, max: 0 })),
        note: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), longString, nastyString),
      });
      const id = fc.oneof(
        { weight: 6, arbitrary: fc.constant(target) },
        { weight: 1, arbitrary: uuid },
        { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
      );
      await fc.assert(
        fc.asyncProperty(id, body, async (unit, b) => {
          await probe('post', `/api/v1/org-units/${seg(unit)}/budget/credits`, admin, b);
        }),
        params(),
      );
      await expectLedgerInvariants(t);
    },
    TEST_MS,
  );

  it('no request above answered 5xx', () => {
    expect(failures).toEqual([]);
  });
});

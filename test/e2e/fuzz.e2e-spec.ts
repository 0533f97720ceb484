import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Response } from 'supertest';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { dbFingerprint } from '../helpers/fingerprint.js';
import { expectLedgerInvariants } from '../helpers/invariants.js';

/**
 * Property-based fuzzing of request bodies, query strings and path parameters (issue 6, "Fuzzing and security
 * suites"). For every endpoint: never a 5xx; every error is `{statusCode, code, message, details?, correlationId}` with
 * statusCode equal to the HTTP status; and a refused request (or any GET) writes nothing (a fingerprint of the mutable
 * tables is unchanged). Where a route is scoped, an id outside the caller's subtree is a 404 and lists hold nothing
 * from outside it.
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

/**
 * Bodies for an endpoint that has to see many valid requests to reach its use case: half well-formed records of
 * `fields` (every key, or any subset for a PATCH), half `shaped` ones.
 */
function validish(fields: Record<string, fc.Arbitrary<unknown>>, partial = false): fc.Arbitrary<string> {
  const good = (partial ? fc.record(fields, { requiredKeys: [] }) : fc.record(fields)) as fc.Arbitrary<
    Record<string, unknown>
  >;
  return bodyArb({}, fc.oneof(good, shaped(fields)));
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

/** A path segment, percent-encoded and capped: past Node's 16 KB header limit the HTTP parser answers 431 itself. */
const capped = (s: string) => seg(s).slice(0, 6000);

/** Mostly `good` (so that most requests get past validation into the use case), sometimes `bad`. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });

/** Path parameter values that are not ids at all: raw escapes (NUL, malformed), dot segments, unicode, long runs. */
const junkSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '%00',
    '%',
    '%zz',
    '%E0%A4%A',
    '..',
    '%2e%2e',
    '%2F',
    '%20',
    'null',
    'undefined',
    '0',
    '-1',
    'NaN',
    '{}',
  ),
  fc.string({ minLength: 1, maxLength: 40 }).map(capped),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map(capped),
  nastyString.filter((x) => x.length > 0).map(capped),
  fc.constantFrom('x'.repeat(3000), 'é'.repeat(600), '中'.repeat(600), '👩‍👩‍👧‍👦'.repeat(40)).map(capped),
);
/** Well-formed ids that name nothing (a random v4 uuid, upper-cased or not; the nil and max uuids). */
const unknownId: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: uuid },
  { weight: 1, arbitrary: uuid.map((u) => u.toUpperCase()) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
  },
);
interface PathId {
  kind: 'real' | 'unknown' | 'junk';
  v: string;
}
/** A path id tagged with what it is: one of `real`, an unknown well-formed id, or junk. */
const pathId = (real: readonly string[], weights = { real: 4, unknown: 1, junk: 2 }): fc.Arbitrary<PathId> =>
  fc.oneof(
    { weight: weights.real, arbitrary: fc.constantFrom(...real).map((v): PathId => ({ kind: 'real', v })) },
    { weight: weights.unknown, arbitrary: unknownId.map((v): PathId => ({ kind: 'unknown', v })) },
    { weight: weights.junk, arbitrary: junkSegment.map((v): PathId => ({ kind: 'junk', v })) },
  );

/** Opaque page cursors: free text, base64url JSON of plausible and wrong values, one past the 1024-character cap. */
const cursorArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc
    .oneof(
      uuid,
      fc.string({ maxLength: 40 }),
      nastyString,
      fc.constantFrom('/', '%', '\\', '0', '99999999999999999999', '18446744073709551616', '-1'),
      wild,
    )
    .map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
  fc.constant('A'.repeat(1025)),
);
const limitValue = fc.constantFrom('0', '1', '2', '50', '200', '201', '-1', '1.5', '1e2', '0x10', 'abc', '', ' 5');
/** Query pairs over `keys` (plus some unknown keys), each value plausible, a cursor, or junk. */
function queryArb(keys: readonly string[], values: fc.Arbitrary<string>): fc.Arbitrary<[string, string][]> {
  return fc.array(
    fc.tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...keys) },
        { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
      ),
      fc.oneof(
        { weight: 4, arbitrary: values },
        { weight: 1, arbitrary: limitValue },
        { weight: 1, arbitrary: cursorArb },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
        { weight: 1, arbitrary: nastyString },
      ),
    ),
    { maxLength: 5 },
  );
}
const qs = (pairs: [string, string][]) => new URLSearchParams(pairs).toString().slice(0, 8000);
/** The value of a query key when it is given exactly once (a repeated key arrives as an array). */
const single = (pairs: [string, string][], key: string) => {
  const hits = pairs.filter(([k]) => k === key);
  return hits.length === 1 ? hits[0][1] : undefined;
};

/** A category's timer policy (`{off?, timers?}`): mostly well-formed, so it reaches the check against the workflow. */
const timer = fc.record(
  {
    id: fc.oneof(
      fc.stringMatching(/^[a-z][a-z0-9-]{1,12}$/),
      fc.constantFrom('progress-reminder', 'acceptance-reminder', ''),
    ),
    state: fc.constantFrom('in_progress', 'pending_acceptance', 'closed', 'nowhere', ''),
    after: fc.constantFrom('PT1H', 'P2D', 'soon', ''),
    atFraction: fc.oneof(fc.double({ min: -1, max: 2, noNaN: true }), fc.constant(0.5)),
    afterWorkingDays: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constant(1.5)),
    workingDaysBeforeDeadline: fc.integer({ min: -2, max: 300 }),
    do: fc.oneof(
      fc.record(
        { kind: fc.constantFrom('remind', 'escalate', 'action', 'explode'), level: fc.integer({ min: -1, max: 5 }) },
        { requiredKeys: ['kind'] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);
const timerPolicy = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        off: fc.array(fc.oneof(fc.constantFrom('progress-reminder', 'deadline-escalation', 'nope'), fc.integer()), {
          maxLength: 3,
        }),
        timers: fc.array(timer, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/**
 * What the shared fingerprint (test/helpers/fingerprint.ts) does not see and the routes fuzzed here write: webhook
 * endpoints and deliveries, refresh tokens, read marks, catalog contents, deprecation flags, phone numbers.
 */
const EXTRA_FINGERPRINT_SQL = `SELECT
  (SELECT COUNT(*) FROM webhook_endpoints) AS webhookEndpoints,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, url, COALESCE(secret_ciphertext, '-'), events, enabled, COALESCE(deleted_at, '-')))), 0) AS CHAR) FROM webhook_endpoints) AS webhookEndpointSum,
  (SELECT COUNT(*) FROM webhook_deliveries) AS webhookDeliveries,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, status, attempts, resends, COALESCE(next_attempt_at, '-'), COALESCE(last_error, '-')))), 0) AS CHAR) FROM webhook_deliveries) AS webhookDeliverySum,
  (SELECT COUNT(*) FROM refresh_tokens) AS refreshTokens,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, COALESCE(revoked_at, '-'), COALESCE(replaced_by_id, '-')))), 0) AS CHAR) FROM refresh_tokens) AS refreshTokenSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, COALESCE(read_at, '-')))), 0) AS CHAR) FROM notifications) AS notificationReadSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', code, name, owner_org_unit_id, required_power_codes, on_community_access_list, workflow_key, COALESCE(timer_policy, '-')))), 0) AS CHAR) FROM categories) AS categorySum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', code, name, legal_basis, holder_org_unit_id, bears_money))), 0) AS CHAR) FROM powers) AS powerSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', scope, scope_value, category_code))), 0) AS CHAR) FROM duties) AS dutySum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', workflow_key, version, deprecated))), 0) AS CHAR) FROM workflow_versions) AS versionSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', workflow_key, name))), 0) AS CHAR) FROM workflows) AS workflowNameSum,
  (SELECT CAST(COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, COALESCE(phone, '-')))), 0) AS CHAR) FROM users) AS userPhoneSum,
  (SELECT COUNT(*) FROM supervision_entries) AS supervisionEntries,
  (SELECT COUNT(*) FROM sms_outbox) AS smsOutbox`;

// ---------------------------------------------------------------------------------------------------------------

describe('fuzzing request bodies and queries (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let dept: Session; // xh-cgj leader
  let ylj: Session; // leader of another department (landscape office)
  let jd1Leader: Session; // leader of street office 1
  let auditor: Session; // district auditor: reads users, writes nothing
  let jd1Id: string;
  let sandboxId: string; // the district office (xh-qb): units and users this suite creates live under it
  let jd2Id: string;
  let gridId: string;
  const failures: string[] = [];
  /** Every webhook endpoint registered here, deleted after the suite so that no worker tries them later. */
  const registered = new Set<string>();
  const stats = new Map<string, Record<number, number>>();

  /** The shared fingerprint, plus the tables only the routes fuzzed here write (content, not just counts). */
  const fingerprint = async () => {
    const [shared, extra] = await Promise.all([
      dbFingerprint(t),
      t.ds.query(EXTRA_FINGERPRINT_SQL) as Promise<unknown[]>,
    ]);
    return `${shared} ${JSON.stringify(extra[0])}`;
  };
  /** The request the last probe sent and what came back, to name it in assertions made after the probe. */
  let lastWhere = '';
  const expectStatus = (res: Response, allowed: readonly number[]) =>
    expect({ where: lastWhere, allowed: allowed.includes(res.status) }).toEqual({ where: lastWhere, allowed: true });

  /**
   * Sends one request (raw JSON body) and checks the three properties. A GET (or a request marked `readOnly`) must
   * write nothing whatever its answer.
   */
  async function probe(
    method: 'post' | 'put' | 'patch' | 'delete' | 'get',
    url: string,
    s: Session | null,
    body?: string,
    headers: Record<string, string> = {},
    readOnly = method === 'get',
  ): Promise<Response> {
    const before = await fingerprint();
    let req = t.http()[method](url);
    if (s) req = req.set(s.auth);
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    const res = body === undefined ? await req : await req.set('Content-Type', 'application/json').send(body);
    const where = `${method.toUpperCase()} ${url.slice(0, 200)} ${String(body).slice(0, 300)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    lastWhere = where;
    const label = `${method.toUpperCase()} ${url
      .replace(/[0-9a-f-]{36}/g, ':id')
      .split('?')[0]
      .slice(0, 60)}`;
    const st = stats.get(label) ?? {};
    st[res.status] = (st[res.status] ?? 0) + 1;
    stats.set(label, st);
    // a refused request (a 5xx included) and any GET write nothing
    const mustNotWrite = readOnly || res.status < 200 || res.status >= 300;
    const after = mustNotWrite ? await fingerprint() : before;
    if (res.status >= 500) failures.push(`${where}${after === before ? '' : ' (and it wrote)'}`);
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
    if (mustNotWrite) expect({ where, after }).toEqual({ where, after: before });
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
    [admin, dept, ylj, jd1Leader, auditor] = await Promise.all(
      ['admin', 'xh-cgj-leader', 'xh-ylj-leader', 'xh-jd1-leader', 'xh-audit'].map((u) => login(t, u)),
    );
    [jd1Id, jd2Id, gridId, sandboxId] = await Promise.all(
      ['xh-jd1', 'xh-jd2', 'xh-jd2-sq3-wg3', 'xh-qb'].map((code) => unitId(t, code)),
    );
  }, TEST_MS);
  afterAll(async () => {
    for (const id of registered) await t.http().delete(`/api/v1/webhooks/${id}`).set(admin.auth);
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
      const body = bodyArb({
        // mostly well-formed, so the policy reaches the check against the workflow
        code: fc.oneof(
          { weight: 6, arbitrary: fc.stringMatching(/^FZ_[A-Z0-9]{4,12}$/) },
          { weight: 1, arbitrary: fc.constantFrom('STREET_VENDOR_RECTIFICATION', 'fz_lower') },
        ),
        name: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('模糊类别', 'fuzz category') },
          { weight: 1, arbitrary: longString },
          { weight: 1, arbitrary: nastyString },
        ),
        ownerOrgUnitId: fc.oneof({ weight: 6, arbitrary: fc.constant(jd2Id) }, { weight: 1, arbitrary: uuid }),
        requiredPowerCodes: fc.oneof(
          { weight: 6, arbitrary: fc.constant([]) },
          {
            weight: 1,
            arbitrary: fc.array(fc.constantFrom('ORDER_RECTIFICATION', 'NO_SUCH_POWER', 'bad code'), { maxLength: 2 }),
          },
        ),
        onCommunityAccessList: fc.oneof(
          { weight: 6, arbitrary: fc.boolean() },
          { weight: 1, arbitrary: fc.constant('yes') },
        ),
        workflowKey: fc.oneof(
          { weight: 6, arbitrary: fc.constant('handoff') },
          { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', 'Bad Key') },
        ),
        timerPolicy,
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
          userId: fc.oneof(
            { weight: 20, arbitrary: fc.constantFrom('u1', 'u2') },
            { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
          ),
          roles: fc.oneof(
            { weight: 20, arbitrary: fc.subarray(['leader', 'staff', 'grid_worker', 'admin']) },
            { weight: 1, arbitrary: fc.constant(['king']) },
          ),
          relation: fc.oneof(
            {
              weight: 20,
              arbitrary: fc.constantFrom('owner', 'assignee', 'ownerSuperior', 'aboveAssignee', 'any', 'none'),
            },
            { weight: 1, arbitrary: fc.constant('friend') },
          ),
        },
        { requiredKeys: ['roles', 'relation'] },
      );
      const step = fc.record(
        {
          actor,
          action: fc.oneof(
            {
              weight: 20,
              arbitrary: fc.constantFrom(
                'accept',
                'return',
                'report-progress',
                'submit',
                'approve',
                'reject',
                'request-extension',
                'approve-extension',
                'cancel',
                'urge',
              ),
            },
            { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 70 }), nastyString) },
          ),
          payload: fc.oneof(
            {
              weight: 20,
              arbitrary: fc.record(
                {
                  percent: fc.integer({ min: -10, max: 200 }),
                  reasonCode: fc.constantFrom('NOT_OUR_DUTY', 'X'),
                  comment: fc.string({ maxLength: 5 }),
                  dueAt: isoDate,
                  reason: fc.string({ maxLength: 5 }),
                },
                { requiredKeys: [] },
              ),
            },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
          ),
          facts: fc.oneof(
            {
              weight: 20,
              arbitrary: fc.record(
                {
                  escrowBalanceFen: fc.integer(),
                  openChildren: fc.integer({ min: -1, max: 5 }),
                  progress: fc.integer({ min: -1, max: 101 }),
                  missingPowers: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
                  pendingExtensionDueAt: fc.oneof(fc.constant(null), isoDate),
                },
                { requiredKeys: [] },
              ),
            },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
          ),
          at: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        },
        { requiredKeys: ['actor', 'action'] },
      );
      const body = bodyArb({
        steps: fc.oneof(
          { weight: 20, arbitrary: fc.array(step, { maxLength: 4 }) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        version: fc.oneof(
          { weight: 20, arbitrary: fc.constant(1) },
          { weight: 1, arbitrary: fc.integer({ min: -1, max: 99 }) },
        ),
        entryState: fc.oneof(
          { weight: 20, arbitrary: fc.constantFrom('pending_acceptance', 'in_progress', 'in_consultation') },
          { weight: 1, arbitrary: fc.constantFrom('closed', 'nowhere', '') },
        ),
        dueAt: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        startAt: fc.oneof({ weight: 20, arbitrary: futureDate }, { weight: 1, arbitrary: isoDate }),
        facts: fc.oneof(
          {
            weight: 20,
            arbitrary: fc.record({ escrowBalanceFen: fc.integer(), openChildren: fc.integer({ min: 0, max: 3 }) }),
          },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        directory: fc.oneof(
          {
            weight: 20,
            arbitrary: fc.record({ 'leader:owner': fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }) }),
          },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
      });
      const key = fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom('handoff', 'approval-countersign') },
        { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', '%2e%2e', 'a'.repeat(300)) },
      );
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
          kind: fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom('holiday', 'workday') },
            { weight: 1, arbitrary: fc.constant('party') },
          ),
          name: fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom('春节', '调休上班') },
            { weight: 1, arbitrary: longString },
            { weight: 1, arbitrary: nastyString },
          ),
        },
        { requiredKeys: ['date', 'kind'] },
      );
      const body = bodyArb({
        days: fc.oneof(
          { weight: 6, arbitrary: fc.array(day, { maxLength: 6 }) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        ),
        note: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('模糊测试', 'fuzz') },
          { weight: 1, arbitrary: longString },
        ),
      });
      const year = fc.oneof(
        { weight: 6, arbitrary: fc.constant('2033') },
        { weight: 1, arbitrary: fc.constantFrom('1999', 'abc', '99999') },
      );
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

  it(
    'GET routes without parameters, with random query strings',
    async () => {
      const route = fc.constantFrom(
        '/health',
        '/api/v1/me',
        '/api/v1/webhooks',
        '/api/v1/workflows',
        '/api/v1/workflows/schema',
        '/api/v1/workflows/building-blocks',
        '/api/v1/catalog/categories',
        '/api/v1/catalog/powers',
        '/api/v1/catalog/duties',
      );
      const query = queryArb(
        ['limit', 'cursor', '__proto__', 'constructor[prototype][x]', 'a[b]', 'filter'],
        fc.string({ maxLength: 20 }),
      );
      await fc.assert(
        fc.asyncProperty(route, query, async (r, pairs) => {
          // these routes take no query: whatever it holds, the admin reads them
          const res = await probe('get', `${r}?${qs(pairs)}`, admin);
          expectStatus(res, [200]);
        }),
        params(40),
      );
    },
    TEST_MS,
  );

  it(
    'POST /auth/refresh and /auth/logout with junk and live refresh tokens',
    async () => {
      // a session of this test; placeholders in the generated bodies stand for its live refresh token or its parts
      const who = 'xh-audit';
      let live = await login(t, who);
      const LIVE = '@live-token@';
      const LIVE_ID = '@live-id@';
      const LIVE_SECRET = '@live-secret@';
      const token = fc.oneof(
        { weight: 4, arbitrary: fc.constant(LIVE) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            `${LIVE_ID}.wrong-secret`,
            `${LIVE_ID}.`,
            LIVE_ID,
            `${LIVE} `,
            `${LIVE}.x`,
            `00000000-0000-0000-0000-000000000000.${LIVE_SECRET}`,
            LIVE_SECRET,
          ),
        },
        {
          weight: 2,
          arbitrary: fc
            .tuple(uuid, fc.base64String({ minLength: 4, maxLength: 44 }))
            .map(([id, secret]) => `${id}.${secret}`),
        },
        { weight: 1, arbitrary: fc.constantFrom('.', '..', 'a.b.c', '.'.repeat(600), 'Bearer x', '%00') },
        { weight: 1, arbitrary: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), longString, nastyString) },
      );
      const body = bodyArb({ refreshToken: token });
      /** Whether the body's refreshToken carries the live secret: nothing else may rotate or revoke the session. */
      const carriesSecret = (raw: string) => {
        try {
          const v = JSON.parse(raw) as { refreshToken?: unknown } | null;
          const rt = v && !Array.isArray(v) ? v.refreshToken : undefined;
          return typeof rt === 'string' && (rt.includes(LIVE) || rt.includes(LIVE_SECRET));
        } catch {
          return false;
        }
      };
      const route = fc.constantFrom('refresh', 'logout');
      const caller = fc.constantFrom('live', 'none', 'other');
      await fc.assert(
        fc.asyncProperty(route, caller, body, async (r, c, raw) => {
          const [id, secret] = live.refreshToken.split('.');
          const b = raw.split(LIVE).join(live.refreshToken).split(LIVE_ID).join(id).split(LIVE_SECRET).join(secret);
          const secretSent = carriesSecret(raw);
          if (r === 'refresh') {
            const res = await probe('post', '/api/v1/auth/refresh', null, b, {}, !secretSent);
            expectStatus(res, [200, 400, 401, 413]);
            if (res.status === 200) {
              // the successor is the live token from now on; the rotated one is never sent again
              expect({ raw, secretSent }).toEqual({ raw, secretSent: true });
              live = {
                ...live,
                refreshToken: res.body.refreshToken,
                auth: { Authorization: `Bearer ${res.body.accessToken}` },
              };
            }
          } else {
            const s = c === 'live' ? live : c === 'other' ? dept : null;
            // a logout revokes the family of the token it names; a token it cannot match revokes nothing
            const res = await probe('post', '/api/v1/auth/logout', s, b, {}, !secretSent);
            expectStatus(res, s ? [204, 400, 413] : [400, 401]);
            if (res.status === 204 && secretSent) live = await login(t, who);
          }
        }),
        params(60),
      );
      // the session of this test still refreshes after all that
      const fresh = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: live.refreshToken });
      expect(fresh.status).toBe(200);
    },
    TEST_MS,
  );

  it(
    'PATCH /users/:id (admin on a user of this suite; unknown and junk ids; a department leader on anyone)',
    async () => {
      // a user of this suite, in a section of its own under the sandbox office (disabled at the end)
      const home = await t
        .http()
        .post('/api/v1/org-units')
        .set(admin.auth)
        .send({ code: 'fz-user-home', name: '模糊测试科', kind: 'section', parentId: sandboxId });
      expect(home.status).toBe(201);
      const created = await t
        .http()
        .post('/api/v1/users')
        .set(admin.auth)
        .send({
          username: 'fz-patch-target',
          displayName: '模糊测试用户',
          orgUnitId: home.body.id,
          roles: ['grid_worker'],
          password: 'Fuzz-Patch-2026',
        });
      expect(created.status).toBe(201);
      const target = created.body.id as string;
      const body = validish(
        {
          displayName: mostly(fc.string({ minLength: 1, maxLength: 20 }), fc.oneof(longString, nastyString)),
          roles: mostly(
            fc.subarray(['leader', 'staff', 'grid_worker', 'auditor'], { minLength: 1 }),
            fc.oneof(
              fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
              fc.constantFrom(['staff', 'staff'], [], ['root']),
            ),
          ),
          disabled: fc.boolean(),
          password: mostly(
            fc.string({ minLength: 10, maxLength: 20 }),
            fc.oneof(fc.string({ maxLength: 9 }), longString),
          ),
          phone: mostly(
            fc.oneof(fc.constant(null), fc.stringMatching(/^\+?[0-9]{5,20}$/)),
            fc.constantFrom('123', '+86 138 0013 8000', '１３８００１３８０００', '+'.repeat(10)),
          ),
        },
        true,
      );
      const asAdmin = fc.record({ caller: fc.constant('admin' as const), id: pathId([target]) });
      // the department leader holds no user:write: never a 2xx, whoever it names (the admin included)
      const asDept = fc.record({
        caller: fc.constant('dept' as const),
        id: pathId([target, admin.user.id, dept.user.id], { real: 4, unknown: 1, junk: 1 }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 4, arbitrary: asAdmin }, { weight: 1, arbitrary: asDept }),
          body,
          async ({ caller, id }, b) => {
            const res = await probe('patch', `/api/v1/users/${id.v}`, caller === 'admin' ? admin : dept, b);
            if (caller === 'dept') expectStatus(res, [400, 403, 413]);
            else if (id.kind === 'real') expectStatus(res, [200, 400, 413]);
            else expectStatus(res, [400, 404, 413]);
            if (res.status === 200) expect(res.body.passwordHash).toBeUndefined();
          },
        ),
        params(),
      );
      for (const [kind, id] of [
        ['users', target],
        ['org-units', home.body.id as string],
      ]) {
        const off = await t.http().patch(`/api/v1/${kind}/${id}`).set(admin.auth).send({ disabled: true });
        expect([off.status, off.body.disabled]).toEqual([200, true]);
      }
    },
    TEST_MS,
  );

  it(
    'PATCH /users/:id: the admin can neither disable itself nor drop its own admin role',
    async () => {
      const other = fc.record(
        {
          displayName: fc.string({ minLength: 1, maxLength: 20 }),
          phone: fc.oneof(fc.constant(null), fc.stringMatching(/^\+?[0-9]{5,20}$/)),
          password: fc.string({ minLength: 10, maxLength: 20 }),
        },
        { requiredKeys: [] },
      );
      const roles = fc.subarray(['leader', 'staff', 'grid_worker', 'auditor'], { minLength: 1 });
      const change = fc.oneof(
        fc.constant({ disabled: true }),
        roles.map((r) => ({ roles: r })),
        roles.map((r) => ({ disabled: true, roles: r })),
        fc.boolean().map((d) => ({ disabled: true, roles: d ? ['admin'] : ['admin', 'auditor'] })),
      );
      await fc.assert(
        fc.asyncProperty(other, change, async (o, c) => {
          const res = await probe('patch', `/api/v1/users/${admin.user.id}`, admin, JSON.stringify({ ...o, ...c }));
          expectStatus(res, [403]);
          expect(res.body.code).toBe('FORBIDDEN');
        }),
        params(25),
      );
      const me = await t.http().get('/api/v1/me').set(admin.auth);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: admin.user.id, roles: ['admin'], disabled: false });
    },
    TEST_MS,
  );

  it(
    'GET /users, /org-units with random queries, and /users/:id, /org-units/:id, /org-units/:id/budget: only in scope',
    async () => {
      const units = (await t.ds.query('SELECT id, path FROM org_units')) as { id: string; path: string }[];
      const users = (await t.ds.query('SELECT u.id, o.path FROM users u JOIN org_units o ON o.id = u.org_unit_id')) as {
        id: string;
        path: string;
      }[];
      const unitPath = new Map(units.map((u) => [u.id, u.path]));
      const userPath = new Map(users.map((u) => [u.id, u.path]));
      const callers = { admin, auditor, jd1Leader, ylj };
      const pathOf = (s: Session) => unitPath.get(s.user.orgUnitId) as string;
      const mayReadUsers = (s: Session) => s.user.roles.some((r) => r === 'admin' || r === 'auditor');
      const caller = fc.constantFrom(...(Object.keys(callers) as (keyof typeof callers)[]));

      const target = fc.oneof(
        fc.record({ route: fc.constantFrom('org-unit', 'budget'), id: pathId(units.map((u) => u.id)) }),
        fc.record({ route: fc.constant('user'), id: pathId(users.map((u) => u.id)) }),
      );
      await fc.assert(
        fc.asyncProperty(caller, target, async (c, { route, id }) => {
          const s = callers[c];
          const url =
            route === 'user'
              ? `/api/v1/users/${id.v}`
              : route === 'budget'
                ? `/api/v1/org-units/${id.v}/budget`
                : `/api/v1/org-units/${id.v}`;
          const res = await probe('get', url, s);
          // a malformed escape is refused by the router, before any permission check
          if (route === 'user' && !mayReadUsers(s)) return expectStatus(res, id.kind === 'junk' ? [400, 403] : [403]);
          if (id.kind !== 'real') return expectStatus(res, [400, 404]);
          const path = (route === 'user' ? userPath : unitPath).get(id.v) as string;
          // a unit or user outside the caller's subtree does not exist for it
          expectStatus(res, [path.startsWith(pathOf(s)) ? 200 : 404]);
        }),
        params(80),
      );

      const list = fc.oneof(
        fc.record({
          route: fc.constant('users'),
          pairs: queryArb(['orgUnitId', 'limit', 'cursor'], fc.oneof(fc.constantFrom(jd1Id, jd2Id, gridId), uuid)),
        }),
        fc.record({
          route: fc.constant('org-units'),
          pairs: queryArb(
            ['parentId', 'kind', 'limit', 'cursor'],
            fc.oneof(
              fc.constantFrom(jd1Id, jd2Id, gridId, 'grid', 'community', 'street', 'village'),
              uuid,
              fc.constantFrom(
                ...units.slice(0, 5).map((u) => Buffer.from(JSON.stringify(u.path)).toString('base64url')),
              ),
            ),
          ),
        }),
      );
      await fc.assert(
        fc.asyncProperty(caller, list, async (c, { route, pairs }) => {
          const s = callers[c];
          const res = await probe('get', `/api/v1/${route}?${qs(pairs)}`, s);
          if (route === 'users' && !mayReadUsers(s)) return expectStatus(res, [403]);
          expectStatus(res, [200, 400]);
          if (res.status !== 200) return;
          const paths = (res.body.items as { path?: string; orgUnitId?: string }[]).map((i) =>
            route === 'users' ? unitPath.get(i.orgUnitId as string) : i.path,
          );
          const outside = paths.filter((p) => !p || !p.startsWith(pathOf(s)));
          expect({ where: lastWhere, outside }).toEqual({ where: lastWhere, outside: [] });
        }),
        params(60),
      );
    },
    TEST_MS,
  );

  it(
    'PATCH /org-units/:id (admin on a unit of this suite; unknown and junk ids; a department leader on any)',
    async () => {
      // a section of this suite's own under the sandbox office (disabled at the end)
      const created = await t
        .http()
        .post('/api/v1/org-units')
        .set(admin.auth)
        .send({ code: 'fz-patch-unit', name: '模糊测试科', kind: 'section', parentId: sandboxId });
      expect(created.status).toBe(201);
      const target = created.body.id as string;
      const body = validish(
        {
          name: mostly(fc.string({ minLength: 1, maxLength: 20 }), fc.oneof(longString, nastyString)),
          disabled: fc.boolean(),
        },
        true,
      );
      const asAdmin = fc.record({ caller: fc.constant('admin' as const), id: pathId([target]) });
      const asDept = fc.record({
        caller: fc.constant('dept' as const),
        id: pathId([target, dept.user.orgUnitId, jd1Id, gridId], { real: 4, unknown: 1, junk: 1 }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 4, arbitrary: asAdmin }, { weight: 1, arbitrary: asDept }),
          body,
          async ({ caller, id }, b) => {
            const res = await probe('patch', `/api/v1/org-units/${id.v}`, caller === 'admin' ? admin : dept, b);
            if (caller === 'dept') expectStatus(res, [400, 403, 413]);
            else if (id.kind === 'real') expectStatus(res, [200, 400, 413]);
            else expectStatus(res, [400, 404, 413]);
          },
        ),
        params(),
      );
      const off = await t.http().patch(`/api/v1/org-units/${target}`).set(admin.auth).send({ disabled: true });
      expect([off.status, off.body.disabled]).toEqual([200, true]);
    },
    TEST_MS,
  );

  it(
    'PATCH /catalog/categories/:code (admin on a category of this suite, timer policy junk; a department leader on any)',
    async () => {
      const created = await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
        code: 'FZ_PATCH_CATEGORY',
        name: '模糊测试类别',
        ownerOrgUnitId: jd2Id,
        requiredPowerCodes: [],
        onCommunityAccessList: false,
        workflowKey: 'handoff',
      });
      expect(created.status).toBe(201);
      const body = validish(
        {
          name: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom('模糊类别', 'fuzz category') },
            { weight: 1, arbitrary: longString },
            { weight: 1, arbitrary: nastyString },
          ),
          ownerOrgUnitId: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(jd2Id, sandboxId, gridId) },
            { weight: 1, arbitrary: uuid },
          ),
          requiredPowerCodes: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom([], ['ORDER_RECTIFICATION']) },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                ['NO_SUCH_POWER'],
                ['bad code'],
                ['ORDER_RECTIFICATION', 'ORDER_RECTIFICATION'],
                Array.from({ length: 16 }, (_, i) => `P_${i}`),
              ),
            },
          ),
          onCommunityAccessList: fc.boolean(),
          workflowKey: fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom('handoff', 'approval-countersign') },
            { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', 'Bad Key', '') },
          ),
          timerPolicy,
        },
        true,
      );
      const code = fc.oneof(
        { weight: 6, arbitrary: fc.constant<PathId>({ kind: 'real', v: 'FZ_PATCH_CATEGORY' }) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom('NO_SUCH_CATEGORY', 'FZ_PATCH_CATEGORY_2')
            .map((v): PathId => ({ kind: 'unknown', v })),
        },
        { weight: 2, arbitrary: junkSegment.map((v): PathId => ({ kind: 'junk', v })) },
      );
      const caller = fc.oneof(
        { weight: 5, arbitrary: fc.constant('admin') },
        { weight: 1, arbitrary: fc.constant('dept') },
      );
      await fc.assert(
        fc.asyncProperty(caller, code, body, async (c, id, b) => {
          const res = await probe('patch', `/api/v1/catalog/categories/${id.v}`, c === 'admin' ? admin : dept, b);
          if (c === 'dept') expectStatus(res, [400, 403, 413]);
          else if (id.kind === 'real') expectStatus(res, [200, 400, 404, 413, 422]);
          else expectStatus(res, [400, 404, 413]);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'POST /catalog/powers and PATCH /catalog/powers/:code (admin; a power of this suite)',
    async () => {
      const created = await t.http().post('/api/v1/catalog/powers').set(admin.auth).send({
        code: 'FZ_PATCH_POWER',
        name: '模糊测试权力',
        legalBasis: '《模糊测试条例》',
        holderOrgUnitId: sandboxId,
        bearsMoney: false,
      });
      expect(created.status).toBe(201);
      const fields = {
        name: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('模糊权力', 'fuzz power') },
          { weight: 1, arbitrary: longString },
          { weight: 1, arbitrary: nastyString },
        ),
        legalBasis: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('《城市绿化条例》', 'none') },
          { weight: 1, arbitrary: longString },
          { weight: 1, arbitrary: nastyString },
        ),
        // never a street office of the seed: which powers a street holds by law is what other suites check
        holderOrgUnitId: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(sandboxId, gridId) },
          { weight: 1, arbitrary: uuid },
        ),
        bearsMoney: fc.boolean(),
      };
      const createBody = validish({
        code: fc.oneof(
          { weight: 4, arbitrary: fc.stringMatching(/^FZ_P[A-Z0-9]{3,10}$/) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('ORDER_RECTIFICATION', 'FZ_PATCH_POWER', 'fz_lower', 'X', 'A'.repeat(65)),
          },
        ),
        ...fields,
      });
      const patchBody = validish(fields, true);
      const code = fc.oneof(
        { weight: 6, arbitrary: fc.constant<PathId>({ kind: 'real', v: 'FZ_PATCH_POWER' }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('NO_SUCH_POWER', 'FZ_PATCH_POWER_2').map((v): PathId => ({ kind: 'unknown', v })),
        },
        { weight: 2, arbitrary: junkSegment.map((v): PathId => ({ kind: 'junk', v })) },
      );
      const op = fc.oneof(
        fc.record({ verb: fc.constant('post' as const), b: createBody, id: fc.constant<PathId | null>(null) }),
        fc.record({ verb: fc.constant('patch' as const), b: patchBody, id: code.map((v): PathId | null => v) }),
      );
      const caller = fc.oneof(
        { weight: 5, arbitrary: fc.constant('admin') },
        { weight: 1, arbitrary: fc.constant('dept') },
      );
      await fc.assert(
        fc.asyncProperty(caller, op, async (c, { verb, b, id }) => {
          const s = c === 'admin' ? admin : dept;
          const res = id
            ? await probe(verb, `/api/v1/catalog/powers/${id.v}`, s, b)
            : await probe(verb, '/api/v1/catalog/powers', s, b);
          if (c === 'dept') expectStatus(res, [400, 403, 413]);
          else if (!id) expectStatus(res, [201, 400, 409, 413, 422]);
          else if (id.kind === 'real') expectStatus(res, [200, 400, 413, 422]);
          else expectStatus(res, [400, 404, 413]);
        }),
        params(60),
      );
    },
    TEST_MS,
  );

  it(
    'PUT /catalog/duties (admin; the seeded lists are put back afterwards)',
    async () => {
      const before = await t.http().get('/api/v1/catalog/duties').set(admin.auth);
      expect(before.status).toBe(200);
      const seeded = [
        'STREET_VENDOR_RECTIFICATION',
        'LANDSCAPE_RECTIFICATION',
        'SANITATION_GRID_CLEANING',
        'ELDERLY_CARE_VISITS',
      ];
      const codes = fc.oneof(
        { weight: 4, arbitrary: fc.subarray(seeded) },
        {
          weight: 1,
          arbitrary: fc.array(fc.constantFrom(...seeded, 'NO_SUCH_CATEGORY', 'lower_case', 'X'), { maxLength: 4 }),
        },
        { weight: 1, arbitrary: wild },
      );
      const kind = fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('district', 'department', 'street', 'section', 'community', 'grid') },
        { weight: 1, arbitrary: fc.constantFrom('village', '', 'GRID', 'toString') },
      );
      const unit = fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(jd1Id, jd2Id, gridId) },
        { weight: 1, arbitrary: uuid },
        { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      );
      const body = bodyArb({
        byKind: fc.dictionary(kind, codes, { maxKeys: 4 }),
        byUnit: fc.dictionary(unit, codes, { maxKeys: 3 }),
      });
      const caller = fc.oneof(
        { weight: 5, arbitrary: fc.constant('admin') },
        { weight: 1, arbitrary: fc.constant('dept') },
      );
      try {
        await fc.assert(
          fc.asyncProperty(caller, body, async (c, b) => {
            const res = await probe('put', '/api/v1/catalog/duties', c === 'admin' ? admin : dept, b);
            expectStatus(res, c === 'admin' ? [200, 400, 413, 422] : [400, 403, 413]);
          }),
          params(),
        );
      } finally {
        // other suites rely on the seeded lists
        const restored = await t.http().put('/api/v1/catalog/duties').set(admin.auth).send(before.body);
        expect(restored.status).toBe(200);
        expect(restored.body).toEqual(before.body);
      }
    },
    TEST_MS,
  );

  // webhooks: endpoints point at 127.0.0.1:9, where nothing listens (and registering one sends nothing)
  /** Registers a well-formed, enabled or disabled endpoint for a test to act on. */
  const register = async (name: string, enabled = true) => {
    const res = await t
      .http()
      .post('/api/v1/webhooks')
      .set(admin.auth)
      .send({ url: `http://127.0.0.1:9/${name}`, secret: 'fuzz-secret-0123456789', events: ['task.urged'], enabled });
    expect(res.status).toBe(201);
    registered.add(res.body.id as string);
    return res.body.id as string;
  };

  const hookUrl = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom(
        'http://127.0.0.1:9/fuzz',
        'https://127.0.0.1:9/fuzz?x=1',
        'http://[::1]:9/',
        'http://localhost:9/hook',
        'HTTP://127.0.0.1:9/UPPER',
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'ftp://127.0.0.1:9/',
        'javascript:alert(1)',
        'file:///etc/passwd',
        'http://user:pw@127.0.0.1:9/',
        '//127.0.0.1:9/',
        '127.0.0.1:9',
        'http://',
        'http://127.0.0.1:99999/',
        'data:text/plain,x',
        `http://127.0.0.1:9/${'a'.repeat(1990)}`,
        `http://127.0.0.1:9/${'a'.repeat(2001)}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: nastyString },
  );
  const hookFields = {
    url: hookUrl,
    secret: mostly(
      fc.string({ minLength: 16, maxLength: 40 }),
      fc.oneof(fc.string({ maxLength: 15 }), fc.constant('s'.repeat(256)), nastyString),
    ),
    events: fc.oneof(
      { weight: 8, arbitrary: fc.subarray(['*', 'task.urged', 'task.overdue', 'task.assigned'], { minLength: 1 }) },
      {
        weight: 1,
        arbitrary: fc.array(
          fc.oneof(
            fc.constantFrom('Task.Urged', '', ' ', '**', 'a'.repeat(65), 'task urged', '.x'),
            fc.string({ maxLength: 10 }),
          ),
          { maxLength: 3 },
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          Array.from({ length: 51 }, (_, i) => `t.e${i}`),
          ['task.urged', 'task.urged'],
          [],
        ),
      },
    ),
    enabled: fc.boolean(),
  };
  const hookCaller = fc.oneof(
    { weight: 5, arbitrary: fc.constant('admin') },
    { weight: 1, arbitrary: fc.constant('dept') },
  );

  it(
    'POST /webhooks and PATCH /webhooks/:id (admin; a department leader never)',
    async () => {
      const target = await register('fuzz-patch');
      const op = fc.oneof(
        fc.record({ verb: fc.constant('post' as const), id: fc.constant<PathId | null>(null) }),
        fc.record({ verb: fc.constant('patch' as const), id: pathId([target]).map((v): PathId | null => v) }),
      );
      await fc.assert(
        fc.asyncProperty(
          hookCaller,
          op,
          validish(hookFields),
          validish(hookFields, true),
          async (c, { verb, id }, full, partial) => {
            const b = verb === 'post' ? full : partial;
            const s = c === 'admin' ? admin : dept;
            const res = id
              ? await probe(verb, `/api/v1/webhooks/${id.v}`, s, b)
              : await probe(verb, '/api/v1/webhooks', s, b);
            if (c === 'dept') expectStatus(res, [400, 403, 413]);
            else if (!id) expectStatus(res, [201, 400, 413, 422]);
            else if (id.kind === 'real') expectStatus(res, [200, 400, 413, 422]);
            else expectStatus(res, [400, 404, 413]);
            if (res.status === 201) registered.add(res.body.id as string);
            // the signing secret is written, never read back
            if (res.status < 300) expect(Object.keys(res.body as object).filter((k) => /secret/i.test(k))).toEqual([]);
          },
        ),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'DELETE /webhooks/:id and GET /webhooks/:id (a deleted endpoint is gone for both)',
    async () => {
      const victims = [
        await register('fuzz-delete-1'),
        await register('fuzz-delete-2'),
        await register('fuzz-delete-3'),
      ];
      const deleted = new Set<string>();
      const op = fc.record({
        verb: fc.constantFrom('delete' as const, 'get' as const),
        id: pathId(victims),
        // a DELETE with a body the route does not read
        body: fc.option(bodyArb({ id: uuid, force: fc.boolean() }), { nil: undefined, freq: 3 }),
      });
      await fc.assert(
        fc.asyncProperty(hookCaller, op, async (c, { verb, id, body }) => {
          const s = c === 'admin' ? admin : dept;
          const b = verb === 'delete' ? body : undefined;
          const res = await probe(verb, `/api/v1/webhooks/${id.v}`, s, b);
          const bodyRefused = b === undefined ? [] : [400, 413];
          if (c === 'dept') return expectStatus(res, [403, ...bodyRefused, ...(id.kind === 'junk' ? [400, 404] : [])]);
          if (id.kind !== 'real') return expectStatus(res, [400, 404, ...bodyRefused]);
          if (deleted.has(id.v)) return expectStatus(res, [404, ...bodyRefused]);
          expectStatus(res, verb === 'delete' ? [204, ...bodyRefused] : [200]);
          if (res.status === 204) deleted.add(id.v);
          if (res.status === 200) expect(res.body).toMatchObject({ id: id.v, url: expect.any(String) });
        }),
        params(),
      );
      expect(deleted.size).toBeGreaterThan(0);
    },
    TEST_MS,
  );

  it(
    'GET /webhooks/deliveries with random queries, GET /webhooks/deliveries/:id and POST …/resend',
    async () => {
      const host = await register('fuzz-deliveries');
      const off = await register('fuzz-deliveries-off', false);
      // the API process runs no worker: the deliveries these routes act on are written here as the worker would
      const fixtures = [
        ...['failed', 'failed', 'failed', 'delivered', 'pending'].map((status) => ({
          id: randomUUID(),
          status,
          endpoint: host,
        })),
        { id: randomUUID(), status: 'failed', endpoint: off },
      ];
      for (const f of fixtures)
        await t.ds.query(
          `INSERT INTO webhook_deliveries (id, endpoint_id, notification_id, template, payload, status, attempts, last_error, delivered_at)
           VALUES (?, ?, ?, 'task.urged', ?, ?, ?, ?, ?)`,
          [
            f.id,
            f.endpoint,
            randomUUID(),
            JSON.stringify({ deliveryId: f.id, template: 'task.urged' }),
            f.status,
            f.status === 'pending' ? 0 : 3,
            f.status === 'failed' ? 'connect ECONNREFUSED 127.0.0.1:9' : null,
            f.status === 'delivered' ? new Date() : null,
          ],
        );
      const state = new Map<string, string>(fixtures.map((f) => [f.id, f.status]));
      const endpointOf = new Map<string, string>(fixtures.map((f) => [f.id, f.endpoint]));

      const query = queryArb(
        ['status', 'endpointId', 'limit', 'cursor'],
        fc.oneof(fc.constantFrom('pending', 'delivered', 'failed', 'FAILED', 'all', host, off), uuid),
      );
      await fc.assert(
        fc.asyncProperty(hookCaller, query, async (c, pairs) => {
          const res = await probe('get', `/api/v1/webhooks/deliveries?${qs(pairs)}`, c === 'admin' ? admin : dept);
          if (c === 'dept') return expectStatus(res, [403]);
          expectStatus(res, [200, 400]);
          if (res.status !== 200) return;
          const items = res.body.items as { status: string; endpointId: string }[];
          const status = single(pairs, 'status');
          const endpointId = single(pairs, 'endpointId');
          if (status)
            expect({ where: lastWhere, other: items.filter((i) => i.status !== status) }).toEqual({
              where: lastWhere,
              other: [],
            });
          if (endpointId)
            expect({ where: lastWhere, other: items.filter((i) => i.endpointId !== endpointId) }).toEqual({
              where: lastWhere,
              other: [],
            });
        }),
        params(60),
      );

      const op = fc.record({
        verb: fc.constantFrom('resend', 'resend', 'get'),
        id: pathId(fixtures.map((f) => f.id)),
        body: fc.option(bodyArb({ force: fc.boolean() }), { nil: undefined, freq: 3 }),
      });
      let resent = 0;
      await fc.assert(
        fc.asyncProperty(hookCaller, op, async (c, { verb, id, body }) => {
          const s = c === 'admin' ? admin : dept;
          const b = verb === 'resend' ? body : undefined;
          const res =
            verb === 'resend'
              ? await probe('post', `/api/v1/webhooks/deliveries/${id.v}/resend`, s, b)
              : await probe('get', `/api/v1/webhooks/deliveries/${id.v}`, s);
          const bodyRefused = b === undefined ? [] : [400, 413];
          if (c === 'dept') return expectStatus(res, [403, ...bodyRefused, ...(id.kind === 'junk' ? [400, 404] : [])]);
          if (id.kind !== 'real') return expectStatus(res, [400, 404, ...bodyRefused]);
          const current = state.get(id.v);
          if (verb === 'get') {
            expectStatus(res, [200]);
            return expect({ where: lastWhere, status: res.body.status }).toEqual({ where: lastWhere, status: current });
          }
          // a failed delivery of an enabled endpoint goes out again; anything else is a 409 with its reason
          const why =
            current === 'delivered'
              ? 'WEBHOOK_DELIVERY_ALREADY_DELIVERED'
              : current === 'pending'
                ? 'WEBHOOK_DELIVERY_IN_PROGRESS'
                : endpointOf.get(id.v) === off
                  ? 'WEBHOOK_ENDPOINT_INACTIVE'
                  : null;
          expectStatus(res, [why ? 409 : 202, ...bodyRefused]);
          if (res.status === 409)
            expect({ where: lastWhere, code: res.body.code }).toEqual({ where: lastWhere, code: why });
          if (res.status === 202) {
            expect(res.body).toMatchObject({ id: id.v, status: 'pending', resends: 1 });
            state.set(id.v, 'pending');
            resent++;
          }
        }),
        params(60),
      );
      expect(resent).toBeGreaterThan(0);
    },
    TEST_MS,
  );

  it(
    'GET /notifications with random queries; POST /notifications/:id/read with own, foreign, unknown and junk ids',
    async () => {
      // the API process runs no worker: the notifications are written here as the worker would write them
      const mine: Record<'dept' | 'admin', string[]> = {
        dept: [randomUUID(), randomUUID(), randomUUID()],
        admin: [randomUUID(), randomUUID()],
      };
      for (const [who, ids] of Object.entries(mine))
        for (const id of ids)
          await t.ds.query(
            "INSERT INTO notifications (id, user_id, task_id, template, title, dedup_key) VALUES (?, ?, NULL, 'task.urged', '模糊测试通知', ?)",
            [id, who === 'dept' ? dept.user.id : admin.user.id, `fuzz:${id}`],
          );
      const read = new Set<string>();
      const caller = fc.constantFrom('dept' as const, 'admin' as const);
      const all = [...mine.dept, ...mine.admin];

      const query = queryArb(['unread', 'limit', 'cursor'], fc.constantFrom('true', 'false', '', '1', 'yes', 'TRUE'));
      await fc.assert(
        fc.asyncProperty(caller, query, async (c, pairs) => {
          const s = c === 'dept' ? dept : admin;
          const res = await probe('get', `/api/v1/notifications?${qs(pairs)}`, s);
          expectStatus(res, [200, 400]);
          if (res.status !== 200) return;
          const items = res.body.items as { id: string; readAt: string | null }[];
          // an inbox holds the caller's notifications only
          const foreign = items.length
            ? ((await t.ds.query('SELECT id FROM notifications WHERE id IN (?) AND user_id <> ?', [
                items.map((i) => i.id),
                s.user.id,
              ])) as unknown[])
            : [];
          expect({ where: lastWhere, foreign }).toEqual({ where: lastWhere, foreign: [] });
          if (['true', ''].includes(single(pairs, 'unread') ?? '-'))
            expect({ where: lastWhere, read: items.filter((i) => i.readAt !== null) }).toEqual({
              where: lastWhere,
              read: [],
            });
        }),
        params(),
      );

      const op = fc.record({
        id: pathId(all, { real: 5, unknown: 1, junk: 2 }),
        body: fc.option(bodyArb({ read: fc.boolean() }), { nil: undefined, freq: 3 }),
      });
      await fc.assert(
        fc.asyncProperty(caller, op, async (c, { id, body }) => {
          const s = c === 'dept' ? dept : admin;
          const own = mine[c].includes(id.v);
          // marking a read notification read again changes nothing
          const res = await probe('post', `/api/v1/notifications/${id.v}/read`, s, body, {}, read.has(id.v));
          const bodyRefused = body === undefined ? [] : [400, 413];
          if (id.kind !== 'real') return expectStatus(res, [400, 404, ...bodyRefused]);
          // someone else's notification does not exist for the caller
          expectStatus(res, [own ? 200 : 404, ...bodyRefused]);
          if (res.status === 200) {
            expect(res.body).toMatchObject({ id: id.v, readAt: expect.any(String) });
            read.add(id.v);
          }
        }),
        params(),
      );
      const left = (await t.ds.query(
        'SELECT COUNT(*) AS n FROM notifications WHERE id IN (?) AND read_at IS NOT NULL',
        [mine.admin],
      )) as {
        n: number;
      }[];
      expect(Number(left[0].n)).toBe(mine.admin.filter((i) => read.has(i)).length);
    },
    TEST_MS,
  );

  it(
    'GET /supervision with random queries: entries of visible tasks only',
    async () => {
      const taskId = await newDeptTask(1000);
      // the API process runs no escalation timers: the entries are written here as the worker's ladder would
      const entries = [
        { level: 2, resolved: false },
        { level: 3, resolved: false },
        { level: 2, resolved: true },
      ].map((e) => ({ ...e, id: randomUUID() }));
      for (const e of entries)
        await t.ds.query(
          'INSERT INTO supervision_entries (id, task_id, level, supervisor_org_unit_id, timer_row_id, resolved_at) VALUES (?, ?, ?, ?, ?, ?)',
          [e.id, taskId, e.level, dept.user.orgUnitId, randomUUID(), e.resolved ? new Date() : null],
        );
      const units = (await t.ds.query('SELECT id, path FROM org_units')) as { id: string; path: string }[];
      const pathOf = new Map(units.map((u) => [u.id, u.path]));
      const callers = { dept, ylj, admin, jd1Leader };
      const caller = fc.constantFrom(...(Object.keys(callers) as (keyof typeof callers)[]));
      const query = queryArb(
        ['level', 'open', 'limit', 'cursor'],
        fc.constantFrom('1', '2', '3', '0', '4', '2.5', 'true', 'false', '', 'yes'),
      );
      await fc.assert(
        fc.asyncProperty(caller, query, async (c, pairs) => {
          const s = callers[c];
          const res = await probe('get', `/api/v1/supervision?${qs(pairs)}`, s);
          expectStatus(res, [200, 400]);
          if (res.status !== 200) return;
          const items = res.body.items as { id: string; taskId: string; level: number }[];
          const tasks = items.length
            ? ((await t.ds.query('SELECT id, owner_path, assignee_path FROM tasks WHERE id IN (?)', [
                [...new Set(items.map((i) => i.taskId))],
              ])) as {
                owner_path: string;
                assignee_path: string;
              }[])
            : [];
          const mine = pathOf.get(s.user.orgUnitId) as string;
          const hidden = tasks.filter((x) => !x.owner_path.startsWith(mine) && !x.assignee_path.startsWith(mine));
          expect({ where: lastWhere, hidden }).toEqual({ where: lastWhere, hidden: [] });
          const level = single(pairs, 'level');
          if (level && /^[123]$/.test(level))
            expect({ where: lastWhere, other: items.filter((i) => i.level !== Number(level)) }).toEqual({
              where: lastWhere,
              other: [],
            });
        }),
        params(60),
      );
    },
    TEST_MS,
  );

  it(
    'POST /workflows (admin): random definitions, JSON and YAML text, alias bombs',
    async () => {
      const handoff = await t.http().get('/api/v1/workflows/handoff').set(admin.auth);
      expect(handoff.status).toBe(200);
      const base = handoff.body.draft as Record<string, unknown>;
      // keys of this suite only (fz-…), or ones the create refuses: other suites create workflows of their own
      const key = fc.oneof(
        { weight: 4, arbitrary: fc.stringMatching(/^fz-new-[a-z0-9]{3,8}$/) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'handoff',
            'fuzz-flow',
            'Bad Key',
            '',
            'a',
            `fz-${'x'.repeat(62)}`,
            '-lead',
            'fz_new',
          ),
        },
        {
          weight: 1,
          arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.constant('fz-a'), { maxLength: 2 })),
        },
      );
      const aliasBomb = [
        'key: fz-bomb',
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...['b', 'c', 'd', 'e', 'f', 'g'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`),
      ].join('\n');
      const definition = fc.oneof(
        { weight: 4, arbitrary: key.map((k) => ({ ...base, key: k })) },
        {
          weight: 2,
          arbitrary: fc
            .tuple(key, fc.constantFrom(...Object.keys(base).filter((k) => k !== 'key')), wild)
            .map(([k, f, v]) => ({ ...base, key: k, [f]: v })),
        },
        { weight: 1, arbitrary: key.map((k) => JSON.stringify({ ...base, key: k })) },
        { weight: 1, arbitrary: key.map((k) => `key: ${String(k)}\nname: 模糊\nstates: [{id: a, initial: true}]\n`) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'key: [unclosed',
            '!!js/function "x"',
            'a: &a\n  b: *a',
            '&a [*a]',
            ' ',
            aliasBomb,
            `{"key": "fz-deep", "x": ${'['.repeat(5000)}${']'.repeat(5000)}}`,
          ),
        },
        { weight: 1, arbitrary: wild },
      );
      const body = bodyArb({}, shaped({ definition }));
      const caller = fc.oneof(
        { weight: 5, arbitrary: fc.constant('admin') },
        { weight: 1, arbitrary: fc.constant('dept') },
      );
      await fc.assert(
        fc.asyncProperty(caller, body, async (c, b) => {
          const res = await probe('post', '/api/v1/workflows', c === 'admin' ? admin : dept, b);
          expectStatus(res, c === 'admin' ? [201, 400, 409, 413, 422] : [400, 403, 413]);
          if (res.status === 201) expect(res.body.key).toMatch(/^fz-/);
        }),
        params(),
      );
    },
    TEST_MS,
  );

  it(
    'workflow versions: publish, GET /workflows/:key[/versions[/:version]], deprecation, diff, migrations (admin)',
    async () => {
      // a workflow of this suite's own (other suites pin tasks to the versions of theirs), with an open task on v1
      const handoff = await t.http().get('/api/v1/workflows/handoff').set(admin.auth);
      const base = { ...(handoff.body.draft as Record<string, unknown>), key: 'fuzz-pub', name: 'fuzz publish' };
      const created = await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: base });
      expect(created.status).toBe(201);
      expect((await t.http().post('/api/v1/workflows/fuzz-pub/publish').set(admin.auth)).status).toBe(201);
      const category = await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
        code: 'FZ_PUB_CATEGORY',
        name: '模糊测试发布类别',
        ownerOrgUnitId: dept.user.orgUnitId,
        requiredPowerCodes: [],
        onCommunityAccessList: false,
        workflowKey: 'fuzz-pub',
      });
      expect(category.status).toBe(201);
      const task = await t
        .http()
        .post('/api/v1/tasks')
        .set(dept.auth)
        .send({ title: '迁移模糊测试', categoryCode: 'FZ_PUB_CATEGORY', dueAt: inDays(30) });
      expect(task.status).toBe(201);
      expect(task.body.workflowVersion).toBe(1);

      const version = fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }).map(String) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '-1',
            '1.5',
            '1e0',
            'abc',
            '9'.repeat(30),
            '2147483648',
            '4294967296',
            '%00',
            '0x1',
            '01',
            '+1',
          ),
        },
        { weight: 1, arbitrary: junkSegment },
      );
      const writeKey = fc.oneof(
        { weight: 6, arbitrary: fc.constant('fuzz-pub') },
        { weight: 1, arbitrary: fc.constantFrom('no-such-workflow', 'FUZZ-PUB') },
        { weight: 1, arbitrary: junkSegment },
      );
      // reads may name the seeded workflows too
      const readKey = fc.oneof(
        { weight: 3, arbitrary: writeKey },
        { weight: 1, arbitrary: fc.constantFrom('handoff', 'approval-countersign') },
      );
      const num = mostly(fc.integer({ min: 1, max: 4 }), fc.oneof(weirdNumber, fc.constant('1')));
      const migration = { fromVersion: num, toVersion: num, dryRun: fc.boolean() };
      // a new draft (a new name is a new definition) lets the next publish make a version
      const draft = bodyArb(
        {},
        shaped({ definition: fc.nat(99).map((n) => ({ ...base, name: `fuzz publish ${n}` })) }),
      );
      const op = fc.oneof(
        fc.record({
          m: fc.constant('put' as const),
          k: writeKey,
          path: fc.constant('/draft'),
          body: draft.map((b): string | undefined => b),
        }),
        fc.record({
          m: fc.constant('post' as const),
          k: writeKey,
          path: fc.constant('/publish'),
          body: fc.option(bodyArb({ note: fc.string() }), { nil: undefined }),
        }),
        fc.record({ m: fc.constant('get' as const), k: readKey, path: fc.constant(''), body: fc.constant(undefined) }),
        fc.record({
          m: fc.constant('get' as const),
          k: readKey,
          path: fc.constant('/versions'),
          body: fc.constant(undefined),
        }),
        fc.record({
          m: fc.constant('get' as const),
          k: readKey,
          path: version.map((v) => `/versions/${v}`),
          body: fc.constant(undefined),
        }),
        fc.record({
          m: fc.constant('post' as const),
          k: writeKey,
          path: version.map((v) => `/versions/${v}/deprecation`),
          body: bodyArb({ deprecated: fc.boolean() }).map((b): string | undefined => b),
        }),
        fc.record({
          m: fc.constant('get' as const),
          k: readKey,
          path: mostly(
            fc
              .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }))
              .map(([a, b]) => `from=${a}&to=${b}`),
            queryArb(['from', 'to'], fc.integer({ min: 0, max: 4 }).map(String)).map(qs),
          ).map((q) => `/diff?${q}`),
          body: fc.constant(undefined),
        }),
        fc.record({
          m: fc.constant('post' as const),
          k: writeKey,
          path: fc.constant('/migrations'),
          body: bodyArb({}, mostly(fc.record(migration), shaped(migration))).map((b): string | undefined => b),
        }),
      );
      await fc.assert(
        fc.asyncProperty(op, async ({ m, k, path, body }) => {
          const res = await probe(m, `/api/v1/workflows/${k}${path}`, admin, body);
          expectStatus(res, [200, 201, 400, 404, 409, 413, 422]);
          if (res.status === 200 && path === '/migrations' && res.body.applied)
            expect(res.body).toMatchObject({ key: 'fuzz-pub', ok: true });
          // a seeded workflow is only ever read here
          if (m !== 'get') expect(k).not.toMatch(/^(handoff|approval-countersign)$/);
        }),
        params(80),
      );
      // the department leader publishes nothing
      const dept403 = await probe('post', '/api/v1/workflows/fuzz-pub/publish', dept);
      expectStatus(dept403, [403]);
    },
    TEST_MS,
  );

  it(
    'GET /tasks/:id and its sub-resources (owner, another department, unknown and junk ids; ledger and event queries)',
    async () => {
      const taskId = await newDeptTask(1000);
      const sub = fc.constantFrom('', '/actions', '/ledger', '/grants', '/events', '/events/verify', '/timers');
      const query = queryArb(
        ['limit', 'cursor', 'afterSeq'],
        fc.oneof(
          fc.integer({ min: -2, max: 600 }).map(String),
          fc.constantFrom('1e1', '1e21', '1e300', '9007199254740993', '4294967296'),
        ),
      );
      const caller = fc.constantFrom('owner', 'other');
      await fc.assert(
        fc.asyncProperty(
          caller,
          pathId([taskId], { real: 5, unknown: 1, junk: 2 }),
          sub,
          fc.option(query, { nil: undefined }),
          async (c, id, r, pairs) => {
            const url = `/api/v1/tasks/${id.v}${r}${pairs ? `?${qs(pairs)}` : ''}`;
            const res = await probe('get', url, c === 'owner' ? dept : ylj);
            if (id.kind !== 'real') return expectStatus(res, [400, 404]);
            // the task of another department does not exist for the landscape office
            expectStatus(res, c === 'owner' ? [200, 400] : [400, 404]);
            if (res.status === 200 && r === '/events')
              expect((res.body.items as { taskId: string }[]).filter((e) => e.taskId !== taskId)).toEqual([]);
          },
        ),
        params(80),
      );
    },
    TEST_MS,
  );

  it(
    'GET /calendar/:year with junk years',
    async () => {
      const year = fc.oneof(
        { weight: 2, arbitrary: fc.integer({ min: 1990, max: 2110 }).map(String) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            '0',
            '-1',
            '-2026',
            '1e3',
            '2026.5',
            '2026.0',
            'abc',
            '９９',
            '+2026',
            '02026',
            '0x7E8',
            '2147483648',
            '-2147483649',
            '99999999999999999999',
            '9'.repeat(400),
            'Infinity',
            'NaN',
            '%00',
            '%20',
            '2026%00',
          ),
        },
        { weight: 1, arbitrary: fc.integer().map(String) },
        { weight: 1, arbitrary: junkSegment },
      );
      await fc.assert(
        fc.asyncProperty(year, async (y) => {
          const res = await probe('get', `/api/v1/calendar/${y}`, dept);
          let decoded: string | null;
          try {
            decoded = decodeURIComponent(y);
          } catch {
            decoded = null;
          }
          // four digits naming 2000…2100 are a year; everything else is refused (' 2026', '2026.0', '02026' and
          // '0x7E8' too, which Number() would read as one)
          const inRange = (n: number) => Number.isInteger(n) && n >= 2000 && n <= 2100;
          const year = decoded !== null && /^\d{4}$/.test(decoded) && inRange(Number(decoded));
          expectStatus(res, year ? [200] : [400, 404]);
          if (res.status === 200) expect(res.body.year).toBe(Number(decoded));
        }),
        params(60),
      );
    },
    TEST_MS,
  );

  it(
    'values within the DTO limits that overflow their columns (webhook events and URL, timer policies, handoff terms)',
    async () => {
      // each body passes its DTO; the stored form is longer than its column: 50 events of 64 characters joined by
      // commas (VARCHAR(2000)), a URL that percent-encoding makes longer than 2000 characters, timer policies and
      // terms past 64 KiB (TEXT)
      const parent = await newDeptTask(100_000);
      const category = await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
        code: 'FZ_OVERSIZE_CATEGORY',
        name: '模糊测试超长',
        ownerOrgUnitId: jd2Id,
        requiredPowerCodes: [],
        onCommunityAccessList: false,
        workflowKey: 'handoff',
      });
      expect(category.status).toBe(201);
      const hook = await register('fuzz-oversize');
      const events = (n: number) =>
        Array.from({ length: n }, (_, i) => `task.${String(i).padStart(2, '0')}${'x'.repeat(57)}`);
      const secret = 'fuzz-secret-0123456789';
      const manyOff = { off: Array.from({ length: 4000 }, () => 'progress-reminder') };
      const longTemplate = {
        timers: [
          {
            id: 'fz-long',
            state: 'in_progress',
            after: 'PT1H',
            do: { kind: 'remind', to: 'assignee', template: 'x'.repeat(70_000) },
          },
        ],
      };
      type Case = [string, 'post' | 'patch', string, Session, Record<string, unknown>];
      const handoffWithTerms = (what: string, notes: string): Case => [
        what,
        'post',
        `/api/v1/tasks/${parent}/handoffs`,
        dept,
        {
          handoffs: [
            {
              assigneeOrgUnitId: jd1Id,
              title: '条款过长',
              fundingFen: 1,
              grants: [{ powerCode: 'ORDER_RECTIFICATION' }],
              terms: { notes },
            },
          ],
        },
      ];
      const cases: Case[] = [
        [
          '50 events of 64 characters',
          'post',
          '/api/v1/webhooks',
          admin,
          { url: 'http://127.0.0.1:9/oversize', secret, events: events(50) },
        ],
        ['31 events of 64 characters', 'patch', `/api/v1/webhooks/${hook}`, admin, { events: events(31) }],
        [
          "a URL of 419 characters, 'é' × 400",
          'post',
          '/api/v1/webhooks',
          admin,
          { url: `http://127.0.0.1:9/${'é'.repeat(400)}`, secret, events: ['*'] },
        ],
        [
          "a URL of 719 characters, '\"' × 700",
          'patch',
          `/api/v1/webhooks/${hook}`,
          admin,
          { url: `http://127.0.0.1:9/${'"'.repeat(700)}` },
        ],
        [
          'a timer policy switching one timer off 4000 times',
          'post',
          '/api/v1/catalog/categories',
          admin,
          {
            code: 'FZ_OVERSIZE_POLICY',
            name: '模糊测试超长策略',
            ownerOrgUnitId: jd2Id,
            requiredPowerCodes: [],
            onCommunityAccessList: false,
            workflowKey: 'handoff',
            timerPolicy: manyOff,
          },
        ],
        [
          'a timer policy switching one timer off 4000 times',
          'patch',
          '/api/v1/catalog/categories/FZ_OVERSIZE_CATEGORY',
          admin,
          { timerPolicy: manyOff },
        ],
        [
          'a timer with a 70000-character template',
          'patch',
          '/api/v1/catalog/categories/FZ_OVERSIZE_CATEGORY',
          admin,
          { timerPolicy: longTemplate },
        ],
        handoffWithTerms('terms of 70000 characters', 'x'.repeat(70_000)),
        handoffWithTerms('terms of 30000 Chinese characters (90000 bytes)', '按月报送'.repeat(7_500)),
      ];
      const wrong: string[] = [];
      for (const [what, m, url, s, body] of cases) {
        try {
          // refused (and nothing written) or stored whole; never a 5xx
          const res = await probe(m, url, s, JSON.stringify(body));
          if (res.status === 201 && url === '/api/v1/webhooks') registered.add(res.body.id as string);
        } catch {
          wrong.push(`${m.toUpperCase()} ${url} with ${what} → ${/→ (\d{3})/.exec(lastWhere)?.[1] ?? '?'}`);
        }
      }
      expect(wrong).toEqual([]);
    },
    TEST_MS,
  );

  it('no request above answered 5xx', () => {
    expect(failures).toEqual([]);
  });
});

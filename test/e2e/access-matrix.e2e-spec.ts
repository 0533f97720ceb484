import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { Response } from 'supertest';
import { atDistrictLevel, DISTRICT_WIDE_PERMISSIONS, permissionsOf, Permission } from '@gridflow/common';
import { TimerFiringService } from '@gridflow/domain';
import { createTestApp, DEMO_PASSWORD, login, type Session, type TestApp } from '../helpers/app.js';
import { dbFingerprint } from '../helpers/fingerprint.js';

/**
 * A generated access matrix (issue 6, "Fuzzing and security suites"): principals × org units × read endpoints, and
 * principals × tasks × read and write endpoints. The expectation is computed from the materialised paths alone
 * (DESIGN §2): allowed iff the target unit's path (for a task: its owner's or its assignee's) starts with the
 * caller's unit path; otherwise exactly 404 — never 403, never 200 — and nothing written. Admin-only routes are 403
 * for every other role.
 *
 * The second half covers every other route of the API (org units, users, budgets, catalogs, calendar, workflows,
 * webhooks, supervision, notifications): for each principal × route (× target, where the route names one) the
 * expected status is computed from the caller's permissions (ROLE_PERMISSIONS) and materialised path — 403 without
 * the route's permission (the guard answers before any lookup), 404 for a target outside the subtree, else the
 * route's 2xx — and a refused write must leave the database exactly as it was. A street-level administrator, created
 * in the setup, runs the scoped routes (where its write permissions meet targets outside its subtree) and is checked
 * on district-wide routes for reads and writes of other streets' data.
 */
/** Per-test budget: the project's testTimeout does not reach tests run with --selectProjects. */
const TEST_MS = 30_000;
const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

const PRINCIPALS = [
  'admin', // district administrator
  'xh-audit', // district auditor
  'xh-cgj-leader', // department leader
  'xh-cgj-staff', // department staff
  'xh-jd1-leader', // street leader
  'xh-jd2-leader', // the other street's leader
  'xh-jd1-ks3-leader', // street section leader
  'xh-jd1-sq1-leader', // community leader, street 1
  'xh-jd2-sq2-leader', // community leader, street 2
  'xh-jd1-sq1-wg1-worker', // grid worker
] as const;
type PrincipalName = (typeof PRINCIPALS)[number];
/**
 * An administrator of one street (roles are per org unit, DESIGN §2), created in the setup: the only principal whose
 * write permissions meet targets outside its subtree. It runs the scoped routes only; whether a unit-level
 * administrator may edit district-wide configuration (catalogs, calendar, workflows, webhooks) DESIGN does not say.
 */
const STREET_ADMIN = 'matrix-jd1-admin';
type Who = PrincipalName | typeof STREET_ADMIN;
const SCOPED_PRINCIPALS: readonly Who[] = [...PRINCIPALS, STREET_ADMIN];

const SEED_UNITS = (
  JSON.parse(readFileSync('config/seed/org-units.json', 'utf8')) as { units: { code: string }[] }
).units.map((u) => u.code);

const SEED_USERS = (
  JSON.parse(readFileSync('config/seed/users.json', 'utf8')) as { users: { username: string }[] }
).users.map((u) => u.username);

/** The shipped default workflow; copies of it (under other keys) are the workflows this suite creates. */
const HANDOFF_DEFINITION = JSON.parse(readFileSync('config/workflows/handoff.json', 'utf8')) as Record<string, unknown>;
/** A workflow the administrator creates and publishes in the setup; the workflow routes are exercised on it. */
const MATRIX_WORKFLOW = 'matrix-access';
/** A department no other suite uses: the only parent, owner and budget the administrator's successful writes touch. */
const SANDBOX_UNIT = 'xh-qb';
/** A public (TEST-NET-3) address: accepted as a webhook target, never reached (no worker runs in this suite). */
const WEBHOOK_URL = 'https://203.0.113.10/gridflow-matrix';
/** The kind of unit a parent of each kind may hold (org-unit-rules.ts); a section or grid holds none. */
const CHILD_KIND: Record<string, string> = {
  district: 'department',
  department: 'section',
  street: 'community',
  section: 'grid',
  community: 'grid',
  grid: 'grid',
};

/** Count and checksum of a table's rows over some columns. */
const checksum = (table: string, columns: string) =>
  `(SELECT CONCAT(COUNT(*), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', ${columns}))), 0)) FROM ${table})`;
/**
 * What dbFingerprint leaves out but the routes of this suite could change: catalog contents (not only counts),
 * calendar rows, workflow names and deprecation flags, webhook endpoints and deliveries, read marks of
 * notifications, supervision entries, user phones and unit codes.
 */
const EXTRA_FINGERPRINT_SQL = `SELECT
  ${checksum('categories', "code, name, owner_org_unit_id, required_power_codes, on_community_access_list, workflow_key, COALESCE(timer_policy, '-')")} AS categories,
  ${checksum('powers', 'code, name, legal_basis, holder_org_unit_id, bears_money')} AS powers,
  ${checksum('duties', 'scope, scope_value, category_code')} AS duties,
  ${checksum('calendar_days', "calendar_code, day, kind, COALESCE(name, '-')")} AS calendarDays,
  ${checksum('calendar_years', "calendar_code, year, COALESCE(note, '-'), updated_at")} AS calendarYears,
  ${checksum('workflows', 'workflow_key, name, draft, latest_version, updated_at')} AS workflows,
  ${checksum('workflow_versions', 'workflow_key, version, deprecated')} AS workflowVersions,
  ${checksum('webhook_endpoints', "id, url, events, enabled, COALESCE(secret_ciphertext, '-'), COALESCE(deleted_at, '-'), updated_at")} AS webhookEndpoints,
  ${checksum('webhook_deliveries', "id, status, attempts, resends, COALESCE(resent_at, '-'), COALESCE(next_attempt_at, '-')")} AS webhookDeliveries,
  ${checksum('notifications', "id, user_id, COALESCE(read_at, '-')")} AS notifications,
  ${checksum('supervision_entries', "id, level, COALESCE(resolved_at, '-')")} AS supervision,
  ${checksum('users', "id, username, org_unit_id, COALESCE(phone, '-'), updated_at")} AS users,
  ${checksum('org_units', "id, code, kind, path, COALESCE(parent_id, '-')")} AS orgUnits`;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One request of the matrix and what it needs. */
interface Case {
  /** The route, e.g. `PATCH /org-units/:id`. */
  route: string;
  /** What `:id` (or the body's unit) names, for the report. */
  target?: string;
  method: Method;
  url: string;
  body?: object;
  /** The permission the route requires. */
  perm: Permission;
  /** The materialised path of the unit the request targets, when the route is scoped to the caller's subtree. */
  scope?: string;
  /** False when the target belongs to someone else (another user's notification): not found, like an unknown id. */
  own?: boolean;
  /** The status of an allowed request. */
  ok: number;
  /** Further checks of an allowed response; returns what is wrong, if anything. */
  verify?: (res: Response) => string | undefined;
}

interface Unit {
  id: string;
  code: string;
  path: string;
  kind: string;
  name: string;
  parentId: string | null;
}
interface SeedUser {
  id: string;
  username: string;
  displayName: string;
  orgUnitId: string;
  path: string;
}
interface MatrixTask {
  label: string;
  id: string;
  ownerPath: string;
  assigneePath: string;
}

describe('access matrix: every principal × unit × endpoint (e2e)', () => {
  let t: TestApp;
  const s = {} as Record<Who, Session>;
  const units = new Map<string, Unit>(); // by code
  const tasks: MatrixTask[] = [];

  const pathOf = (p: Who) => [...units.values()].find((u) => u.id === s[p].user.orgUnitId)!.path;
  const canSee = (p: Who, ...paths: string[]) => paths.some((x) => x.startsWith(pathOf(p)));
  /** The route's permission among the caller's roles; a district-wide one only for a caller at the district itself. */
  const may = (p: Who, perm: Permission) =>
    permissionsOf(s[p].user.roles).has(perm) &&
    (!DISTRICT_WIDE_PERMISSIONS.has(perm) || atDistrictLevel({ orgUnitPath: pathOf(p) }));

  const seedUsers: SeedUser[] = [];
  /** Fixtures of the second half, made in the setup. */
  const fx = {
    /** Matrix tasks the escalation ladder has put under supervision. */
    supervised: [] as string[],
    /** A webhook endpoint of the administrator's and deliveries to it; `failedDeliveryId` exhausted its retries. */
    webhookId: '',
    deliveryId: '',
    failedDeliveryId: '',
    /** A failed delivery about a task outside the street administrator's subtree. */
    outsideFailedDeliveryId: '',
    /** The open task (of the other street) on version 1 of the suite's workflow. */
    workflowTaskId: '',
    /** A seeded power and category: refused writes aim at them, the administrator's writes leave them as they are. */
    powerCode: 'CREW_COMMAND',
    categoryCode: 'SANITATION_GRID_CLEANING',
  };

  /** dbFingerprint plus the contents it does not cover (EXTRA_FINGERPRINT_SQL). */
  const fingerprint = async () =>
    `${await dbFingerprint(t)} ${JSON.stringify(((await t.ds.query(EXTRA_FINGERPRINT_SQL)) as unknown[])[0])}`;

  const send = (p: Who, method: Method, url: string, body?: object): Promise<Response> => {
    const req = t.http()[method](url).set(s[p].auth);
    return Promise.resolve(body === undefined ? req : req.send(body));
  };

  /**
   * 403 without the route's permission, else 404 for a target outside the caller's subtree (or someone else's), else
   * the route's 2xx.
   */
  const expectedStatus = (p: Who, c: Case) =>
    !may(p, c.perm) ? 403 : (c.scope !== undefined && !canSee(p, c.scope)) || c.own === false ? 404 : c.ok;

  /**
   * Sends one case as `p` and appends to `wrong` what differs from the expectation: the status, the error code of a
   * refusal (FORBIDDEN, NOT_FOUND), the checks of an allowed response, and — for a refused write — any change in
   * the database.
   */
  async function check(p: Who, wrong: string[], c: Case): Promise<Response> {
    const expected = expectedStatus(p, c);
    const refusedWrite = c.method !== 'get' && expected >= 400;
    const before = refusedWrite ? await fingerprint() : '';
    const res = await send(p, c.method, c.url, c.body);
    const problems: string[] = [];
    if (res.status !== expected) problems.push(`${res.status} ${res.body?.code ?? ''} (expected ${expected})`);
    else if (expected === 403 && res.body.code !== 'FORBIDDEN') problems.push(`403 with code ${res.body.code}`);
    else if (expected === 404 && res.body.code !== 'NOT_FOUND') problems.push(`404 with code ${res.body.code}`);
    else if (expected === c.ok && c.verify) {
      const problem = c.verify(res);
      if (problem) problems.push(problem);
    }
    if (refusedWrite && (await fingerprint()) !== before) problems.push('the refused request wrote to the database');
    if (problems.length) wrong.push(`${c.route}${c.target ? ` [${c.target}]` : ''}: ${problems.join('; ')}`);
    return res;
  }

  /** Every item of a keyset-paged list (`{items, nextCursor}`), or the first refusal. */
  async function listAll<T>(
    p: Who,
    url: string,
    query: Record<string, string> = {},
  ): Promise<{ status: number; items: T[] }> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await t
        .http()
        .get(url)
        .query({ ...query, limit: 200, ...(cursor ? { cursor } : {}) })
        .set(s[p].auth);
      if (res.status !== 200) return { status: res.status, items };
      items.push(...(res.body.items as T[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    return { status: 200, items };
  }

  async function createTask(who: PrincipalName, categoryCode: string, fundingFen: number): Promise<string> {
    const res = await t
      .http()
      .post('/api/v1/tasks')
      .set(s[who].auth)
      .send({ title: `矩阵测试 ${categoryCode}`, categoryCode, dueAt: inDays(40), fundingFen });
    if (res.status !== 201) throw new Error(`create by ${who}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }
  async function handoff(
    who: PrincipalName,
    parentId: string,
    assigneeCode: string,
    fundingFen: number,
    grants: { powerCode: string }[] = [],
    dueInDays = 30,
  ) {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${parentId}/handoffs`)
      .set(s[who].auth)
      .send({
        handoffs: [{ assigneeOrgUnitId: units.get(assigneeCode)!.id, dueAt: inDays(dueInDays), fundingFen, grants }],
      });
    if (res.status !== 201)
      throw new Error(`handoff by ${who} to ${assigneeCode}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.items[0].id as string;
  }
  async function accept(who: PrincipalName, id: string) {
    const res = await t.http().post(`/api/v1/tasks/${id}/actions/accept`).set(s[who].auth).send({});
    if (res.status !== 200) throw new Error(`accept by ${who}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  beforeAll(async () => {
    t = await createTestApp();
    const sessions = await Promise.all(PRINCIPALS.map((p) => login(t, p)));
    PRINCIPALS.forEach((p, i) => (s[p] = sessions[i]));
    const extra = await Promise.all(['xh-ylj-leader', 'xh-jd1-sq2-leader'].map((p) => login(t, p)));
    const [ylj, sq2] = extra;
    const rows = (await t.ds.query(
      'SELECT id, code, path, kind, name, parent_id AS parentId FROM org_units',
    )) as Unit[];
    for (const r of rows) if (SEED_UNITS.includes(r.code)) units.set(r.code, r);
    expect(units.size).toBe(SEED_UNITS.length);

    // Tasks owned or assigned at units across the tree (see scenario-landscape for the payloads).
    const ids: Record<string, string> = {};
    ids.dept = await createTask('xh-cgj-leader', 'STREET_VENDOR_RECTIFICATION', 1000);
    ids.deptToJd2 = await handoff('xh-cgj-leader', ids.dept, 'xh-jd2', 100, [{ powerCode: 'ORDER_RECTIFICATION' }]);
    {
      const res = await t
        .http()
        .post('/api/v1/tasks')
        .set(ylj.auth)
        .send({ title: '矩阵测试 园林', categoryCode: 'LANDSCAPE_RECTIFICATION', dueAt: inDays(40), fundingFen: 1000 });
      expect(res.status).toBe(201);
      ids.ylj = res.body.id;
    }
    ids.jd1 = await createTask('xh-jd1-leader', 'SANITATION_GRID_CLEANING', 1000);
    ids.jd1ToKs3 = await handoff('xh-jd1-leader', ids.jd1, 'xh-jd1-ks3', 100);
    ids.jd1ToSq1 = await handoff('xh-jd1-leader', ids.jd1, 'xh-jd1-sq1', 300);
    await accept('xh-jd1-sq1-leader', ids.jd1ToSq1);
    ids.sq1ToWg1 = await handoff('xh-jd1-sq1-leader', ids.jd1ToSq1, 'xh-jd1-sq1-wg1', 100, [], 20);
    {
      const res = await t
        .http()
        .post('/api/v1/tasks')
        .set(sq2.auth)
        .send({ title: '矩阵测试 社区', categoryCode: 'SANITATION_GRID_CLEANING', dueAt: inDays(40), fundingFen: 100 });
      expect(res.status).toBe(201);
      ids.jd1Sq2 = res.body.id;
    }
    ids.jd2Sq2 = await createTask('xh-jd2-sq2-leader', 'SANITATION_GRID_CLEANING', 100);
    ids.jd2Sq2ToWg1 = await handoff('xh-jd2-sq2-leader', ids.jd2Sq2, 'xh-jd2-sq2-wg1', 50);

    for (const [label, id] of Object.entries(ids)) {
      const [row] = (await t.ds.query(
        'SELECT owner_path AS ownerPath, assignee_path AS assigneePath FROM tasks WHERE id = ?',
        [id],
      )) as {
        ownerPath: string;
        assigneePath: string;
      }[];
      tasks.push({ label, id, ...row });
    }

    const users = (await t.ds.query(
      `SELECT u.id, u.username, u.display_name AS displayName, u.org_unit_id AS orgUnitId, o.path
         FROM users u JOIN org_units o ON o.id = u.org_unit_id ORDER BY u.username`,
    )) as SeedUser[];
    seedUsers.push(...users.filter((u) => SEED_USERS.includes(u.username)));
    expect(seedUsers).toHaveLength(SEED_USERS.length);

    // A webhook endpoint for supervision notices, created before the escalations below so that they reach it.
    const hook = await t
      .http()
      .post('/api/v1/webhooks')
      .set(s.admin.auth)
      .send({ url: WEBHOOK_URL, secret: 'matrix-secret-0123456789', events: ['task.escalation_supervision'] });
    expect(hook.status).toBe(201);
    fx.webhookId = hook.body.id;

    // A workflow of the suite's own, published once: drafts, publishing, deprecation and migrations act on it.
    const wf = await t
      .http()
      .post('/api/v1/workflows')
      .set(s.admin.auth)
      .send({ definition: { ...HANDOFF_DEFINITION, key: MATRIX_WORKFLOW, name: '矩阵测试流程' } });
    expect(wf.status).toBe(201);
    expect((await t.http().post(`/api/v1/workflows/${MATRIX_WORKFLOW}/publish`).set(s.admin.auth)).status).toBe(201);
    // ... and one open task on its version 1, held by the other street (what a migration would move)
    const wfCategory = await t
      .http()
      .post('/api/v1/catalog/categories')
      .set(s.admin.auth)
      .send({
        code: 'MATRIX_WORKFLOW_CATEGORY',
        name: '矩阵测试流程事项',
        ownerOrgUnitId: units.get(SANDBOX_UNIT)!.id,
        requiredPowerCodes: [],
        onCommunityAccessList: true,
        workflowKey: MATRIX_WORKFLOW,
      });
    expect(wfCategory.status).toBe(201);
    fx.workflowTaskId = await createTask('xh-jd2-leader', 'MATRIX_WORKFLOW_CATEGORY', 100);

    // Supervision entries arise only from the escalation ladder: fire the acceptance escalation of four handed-off
    // tasks (level 1, 催办) and the rung the ladder schedules after it (level 2, 督办, which opens an entry), each at
    // its due time, through the service the timer worker uses.
    const firing = t.app.get(TimerFiringService, { strict: false });
    for (const label of ['deptToJd2', 'jd1ToKs3', 'sq1ToWg1', 'jd2Sq2ToWg1']) {
      for (let rung = 1; rung <= 2; rung++) {
        const timers = (await t.ds.query(
          "SELECT id, due_at AS dueAt, do_action AS doAction FROM task_timers WHERE task_id = ? AND status = 'pending' ORDER BY due_at, id",
          [ids[label]],
        )) as { id: string; dueAt: Date | string; doAction: string | { kind?: string } }[];
        const escalation = timers.find(
          (r) => (typeof r.doAction === 'string' ? JSON.parse(r.doAction) : r.doAction).kind === 'escalate',
        );
        if (!escalation) throw new Error(`${label}: no pending escalation timer (rung ${rung})`);
        const outcome = await firing.fire(escalation.id, new Date(new Date(escalation.dueAt).getTime() + 1000));
        expect([label, outcome]).toMatchObject([label, { kind: 'fired', timer: 'escalate', level: rung }]);
      }
      fx.supervised.push(ids[label]);
    }
    const deliveryOf = async (label: string) => {
      const rows = (await t.ds.query(
        'SELECT id FROM webhook_deliveries WHERE endpoint_id = ? AND task_id = ? ORDER BY id LIMIT 1',
        [fx.webhookId, ids[label]],
      )) as { id: string }[];
      if (!rows[0]) throw new Error(`no webhook delivery about ${label}`);
      return rows[0].id;
    };
    fx.deliveryId = await deliveryOf('deptToJd2');
    fx.failedDeliveryId = await deliveryOf('jd1ToKs3');
    fx.outsideFailedDeliveryId = await deliveryOf('jd2Sq2ToWg1');
    // no worker runs here: these stand for deliveries whose receiver refused every attempt
    await t.ds.query(
      "UPDATE webhook_deliveries SET status = 'failed', attempts = 3, last_status_code = 503, last_error = 'HTTP 503', next_attempt_at = NULL WHERE id IN (?, ?)",
      [fx.failedDeliveryId, fx.outsideFailedDeliveryId],
    );

    // the street administrator
    const streetAdmin = await t
      .http()
      .post('/api/v1/users')
      .set(s.admin.auth)
      .send({
        username: STREET_ADMIN,
        displayName: '街道系统管理员',
        orgUnitId: units.get('xh-jd1')!.id,
        roles: ['admin'],
        password: DEMO_PASSWORD(),
      });
    expect(streetAdmin.status).toBe(201);
    s[STREET_ADMIN] = await login(t, STREET_ADMIN);
  }, TEST_MS);
  afterAll(async () => {
    // no endpoint of this suite may catch the notifications of the suites that share the database
    if (fx.webhookId) await t.http().delete(`/api/v1/webhooks/${fx.webhookId}`).set(s.admin.auth);
    // and the street administrator created here can no longer sign in
    if (s[STREET_ADMIN])
      await t.http().patch(`/api/v1/users/${s[STREET_ADMIN].user.id}`).set(s.admin.auth).send({ disabled: true });
    await t.close();
  });

  it('covers principals at every level and tasks that each principal can and cannot see', () => {
    for (const p of PRINCIPALS) {
      const visible = tasks.filter((x) => canSee(p, x.ownerPath, x.assigneePath)).length;
      if (p === 'admin' || p === 'xh-audit') expect(visible).toBe(tasks.length);
      else {
        expect(visible).toBeGreaterThan(0);
        expect(visible).toBeLessThan(tasks.length);
      }
    }
  });

  it('has supervised tasks, notifications and webhook deliveries that each principal can and cannot see', async () => {
    const supervised = tasks.filter((x) => fx.supervised.includes(x.id));
    expect(supervised).toHaveLength(4);
    const noticed = new Set(
      ((await t.ds.query('SELECT DISTINCT user_id AS id FROM notifications')) as { id: string }[]).map((r) => r.id),
    );
    for (const p of PRINCIPALS) {
      const visible = supervised.filter((x) => canSee(p, x.ownerPath, x.assigneePath)).length;
      if (p === 'admin' || p === 'xh-audit') expect(visible).toBe(supervised.length);
      else expect([p, visible > 0 && visible < supervised.length]).toEqual([p, true]);
    }
    // the escalations notified leaders of both streets and of the district; other principals have no notice
    const withNotices = PRINCIPALS.filter((p) => noticed.has(s[p].user.id));
    expect(withNotices.length).toBeGreaterThanOrEqual(4);
    expect(withNotices.length).toBeLessThan(PRINCIPALS.length);
    expect(noticed.size).toBeGreaterThan(withNotices.length);
    const [{ n }] = (await t.ds.query('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', [
      fx.webhookId,
    ])) as { n: number }[];
    expect(Number(n)).toBeGreaterThanOrEqual(2);
  });

  describe.each(PRINCIPALS)('%s', (p) => {
    it(
      'reads exactly the org units (and budgets) of its subtree; others are 404',
      async () => {
        const wrong: string[] = [];
        for (const u of units.values()) {
          const expected = canSee(p, u.path) ? 200 : 404;
          for (const url of [`/api/v1/org-units/${u.id}`, `/api/v1/org-units/${u.id}/budget`]) {
            const res = await t.http().get(url).set(s[p].auth);
            const ok = res.status === expected && (expected === 200 || res.body.code === 'NOT_FOUND');
            if (!ok) wrong.push(`${u.code} ${url.slice(-7)} → ${res.status} (expected ${expected})`);
          }
        }
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'reads exactly the tasks owned or assigned in its subtree; others are 404',
      async () => {
        const wrong: string[] = [];
        for (const task of tasks) {
          const expected = canSee(p, task.ownerPath, task.assigneePath) ? 200 : 404;
          for (const suffix of ['', '/events', '/events/verify', '/grants', '/ledger', '/actions', '/timers']) {
            const res = await t.http().get(`/api/v1/tasks/${task.id}${suffix}`).set(s[p].auth);
            const ok = res.status === expected && (expected === 200 || res.body.code === 'NOT_FOUND');
            if (!ok) wrong.push(`${task.label}${suffix} → ${res.status} (expected ${expected})`);
          }
        }
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'lists only tasks of its subtree',
      async () => {
        // every page: other suites sharing this database add tasks too
        const listed = new Set<string>();
        let cursor: string | null = null;
        do {
          const res = await t
            .http()
            .get('/api/v1/tasks')
            .query({ view: 'all', limit: 200, ...(cursor ? { cursor } : {}) })
            .set(s[p].auth);
          expect(res.status).toBe(200);
          for (const i of res.body.items as { id: string }[]) listed.add(i.id);
          cursor = res.body.nextCursor as string | null;
        } while (cursor);
        for (const task of tasks)
          expect([task.label, listed.has(task.id)]).toEqual([task.label, canSee(p, task.ownerPath, task.assigneePath)]);
      },
      TEST_MS,
    );

    it(
      'writes on tasks outside its scope are 404 (403 without the permission) and write nothing',
      async () => {
        const outside = tasks.filter((x) => !canSee(p, x.ownerPath, x.assigneePath));
        const before = await dbFingerprint(t);
        const wrong: string[] = [];
        for (const task of outside) {
          const writes: [string, Permission, object][] = [
            ['actions/report-progress', Permission.TaskAct, { percent: 50, note: '越权' }],
            ['actions/accept', Permission.TaskAct, {}],
            ['actions/urge', Permission.TaskAct, {}],
            ['expenses', Permission.ExpenseWrite, { amountFen: 1, payee: '越权收款人' }],
            [
              'handoffs',
              Permission.TaskCreate,
              { handoffs: [{ assigneeOrgUnitId: s[p].user.orgUnitId, fundingFen: 1, grants: [] }] },
            ],
          ];
          for (const [suffix, perm, body] of writes) {
            const expected = may(p, perm) ? 404 : 403;
            const res = await t.http().post(`/api/v1/tasks/${task.id}/${suffix}`).set(s[p].auth).send(body);
            if (res.status !== expected)
              wrong.push(`${task.label}/${suffix} → ${res.status} ${res.body.code} (expected ${expected})`);
          }
        }
        expect(wrong).toEqual([]);
        expect(await dbFingerprint(t)).toBe(before);
      },
      TEST_MS,
    );
  });

  /** District-wide configuration: catalogs, calendar, workflows and webhooks. */
  describe.each(PRINCIPALS)('%s: catalogs, calendar, workflows and webhooks', (p) => {
    it(
      'catalogs and the calendar: reads with catalog:read (unit duty lists of its subtree only), writes with catalog:write; refusals write nothing',
      async () => {
        const wrong: string[] = [];
        const i = PRINCIPALS.indexOf(p);
        const sandbox = units.get(SANDBOX_UNIT)!;
        const byCode = (res: Response, code: string) =>
          (res.body.items as { code: string }[]).some((x) => x.code === code) ? undefined : `${code} not listed`;
        await check(p, wrong, {
          route: 'GET /catalog/categories',
          method: 'get',
          url: '/api/v1/catalog/categories',
          perm: Permission.CatalogRead,
          ok: 200,
          verify: (res) => byCode(res, fx.categoryCode),
        });
        await check(p, wrong, {
          route: 'GET /catalog/powers',
          method: 'get',
          url: '/api/v1/catalog/powers',
          perm: Permission.CatalogRead,
          ok: 200,
          verify: (res) => byCode(res, fx.powerCode),
        });
        // duty lists: every kind, and the unit lists of the units in the caller's subtree only
        const unitDuties = (await t.ds.query(
          "SELECT DISTINCT d.scope_value AS id, o.path FROM duties d JOIN org_units o ON o.id = d.scope_value WHERE d.scope = 'unit'",
        )) as { id: string; path: string }[];
        expect(unitDuties.length).toBeGreaterThan(0);
        const duties = await check(p, wrong, {
          route: 'GET /catalog/duties',
          method: 'get',
          url: '/api/v1/catalog/duties',
          perm: Permission.CatalogRead,
          ok: 200,
          verify: (res) => {
            const shown = Object.keys(res.body.byUnit as object).sort();
            const visible = unitDuties
              .filter((u) => canSee(p, u.path))
              .map((u) => u.id)
              .sort();
            return JSON.stringify(shown) === JSON.stringify(visible)
              ? undefined
              : `byUnit shows ${shown.length} units (expected the ${visible.length} of its subtree)`;
          },
        });
        await check(p, wrong, {
          route: 'GET /calendar/:year',
          target: '2027',
          method: 'get',
          url: '/api/v1/calendar/2027',
          perm: Permission.CatalogRead,
          ok: 200,
          verify: (res) => (res.body.year === 2027 && res.body.days.length > 0 ? undefined : 'not the 2027 calendar'),
        });

        const writer = may(p, Permission.CatalogWrite);
        await check(p, wrong, {
          route: 'POST /catalog/categories',
          method: 'post',
          url: '/api/v1/catalog/categories',
          body: {
            code: `MATRIX_CATEGORY_${i}`,
            name: `矩阵测试事项${i}`,
            ownerOrgUnitId: sandbox.id,
            requiredPowerCodes: [],
            onCommunityAccessList: true,
            workflowKey: 'handoff',
          },
          perm: Permission.CatalogWrite,
          ok: 201,
          verify: (res) => (res.body.code === `MATRIX_CATEGORY_${i}` ? undefined : 'wrong category'),
        });
        await check(p, wrong, {
          route: 'PATCH /catalog/categories/:code',
          target: `MATRIX_CATEGORY_${i}`,
          method: 'patch',
          url: `/api/v1/catalog/categories/MATRIX_CATEGORY_${i}`,
          body: { name: `矩阵测试事项${i}（改）` },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) => (res.body.name === `矩阵测试事项${i}（改）` ? undefined : 'not renamed'),
        });
        const category = (
          (await t.ds.query('SELECT name FROM categories WHERE code = ?', [fx.categoryCode])) as { name: string }[]
        )[0];
        await check(p, wrong, {
          route: 'PATCH /catalog/categories/:code',
          target: fx.categoryCode,
          method: 'patch',
          url: `/api/v1/catalog/categories/${fx.categoryCode}`,
          body: writer
            ? { name: category.name }
            : { name: '越权改名', onCommunityAccessList: false, requiredPowerCodes: [fx.powerCode] },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) => (res.body.name === category.name ? undefined : 'renamed'),
        });
        await check(p, wrong, {
          route: 'POST /catalog/powers',
          method: 'post',
          url: '/api/v1/catalog/powers',
          body: {
            code: `MATRIX_POWER_${i}`,
            name: `矩阵测试权力${i}`,
            legalBasis: '测试',
            holderOrgUnitId: sandbox.id,
            bearsMoney: false,
          },
          perm: Permission.CatalogWrite,
          ok: 201,
          verify: (res) => (res.body.code === `MATRIX_POWER_${i}` ? undefined : 'wrong power'),
        });
        await check(p, wrong, {
          route: 'PATCH /catalog/powers/:code',
          target: `MATRIX_POWER_${i}`,
          method: 'patch',
          url: `/api/v1/catalog/powers/MATRIX_POWER_${i}`,
          body: { legalBasis: '测试（改）' },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) => (res.body.legalBasis === '测试（改）' ? undefined : 'not changed'),
        });
        const power = (
          (await t.ds.query('SELECT name FROM powers WHERE code = ?', [fx.powerCode])) as { name: string }[]
        )[0];
        await check(p, wrong, {
          route: 'PATCH /catalog/powers/:code',
          target: fx.powerCode,
          method: 'patch',
          url: `/api/v1/catalog/powers/${fx.powerCode}`,
          body: writer
            ? { name: power.name }
            : { name: '越权改名', bearsMoney: true, holderOrgUnitId: s[p].user.orgUnitId },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) => (res.body.name === power.name ? undefined : 'renamed'),
        });
        // PUT /catalog/duties: an allowed replacement puts back what the administrator reads; a refused one would
        // have cleared every list
        const current =
          writer && duties.status === 200 ? { byKind: duties.body.byKind, byUnit: duties.body.byUnit } : null;
        await check(p, wrong, {
          route: 'PUT /catalog/duties',
          method: 'put',
          url: '/api/v1/catalog/duties',
          body: current ?? { byKind: {}, byUnit: {} },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) => (JSON.stringify(res.body) === JSON.stringify(current) ? undefined : 'the lists changed'),
        });
        // PUT /calendar/:year on a far year: an allowed write stores it as it reads (weekends only), a refused one
        // would have added a holiday
        const far = await t.http().get('/api/v1/calendar/2095').set(s.admin.auth);
        expect(far.status).toBe(200);
        await check(p, wrong, {
          route: 'PUT /calendar/:year',
          target: '2095',
          method: 'put',
          url: '/api/v1/calendar/2095',
          body: writer
            ? { days: far.body.days }
            : { days: [{ date: '2095-01-03', kind: 'holiday', name: '越权假日' }], note: '越权' },
          perm: Permission.CatalogWrite,
          ok: 200,
          verify: (res) =>
            res.body.year === 2095 && JSON.stringify(res.body.days) === JSON.stringify(far.body.days)
              ? undefined
              : 'the days changed',
        });
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'workflows: reads with workflow:read, drafts, publishing, deprecation, migrations and simulation with workflow:write; refusals write nothing',
      async () => {
        const wrong: string[] = [];
        const i = PRINCIPALS.indexOf(p);
        const w = `/api/v1/workflows/${MATRIX_WORKFLOW}`;
        const read = (route: string, url: string, verify?: Case['verify']) =>
          check(p, wrong, { route, method: 'get', url, perm: Permission.WorkflowRead, ok: 200, verify });
        const write = (
          route: string,
          method: Method,
          url: string,
          body: object | undefined,
          ok: number,
          verify?: Case['verify'],
        ) => check(p, wrong, { route, method, url, body, perm: Permission.WorkflowWrite, ok, verify });

        await read('GET /workflows', '/api/v1/workflows', (res) =>
          ['handoff', MATRIX_WORKFLOW].every((k) => (res.body.items as { key: string }[]).some((x) => x.key === k))
            ? undefined
            : 'workflows missing',
        );
        await read('GET /workflows/schema', '/api/v1/workflows/schema', (res) =>
          typeof res.body === 'object' && Object.keys(res.body).length ? undefined : 'no schema',
        );
        await read('GET /workflows/building-blocks', '/api/v1/workflows/building-blocks', (res) =>
          res.body.items.length ? undefined : 'no blocks',
        );
        await read('GET /workflows/:key', '/api/v1/workflows/handoff', (res) =>
          res.body.key === 'handoff' ? undefined : 'another workflow',
        );
        await read('GET /workflows/:key/versions', `${w}/versions`, (res) =>
          res.body.items[0]?.version === 1 ? undefined : 'no version 1',
        );
        await read('GET /workflows/:key/versions/:version', `${w}/versions/1`, (res) =>
          res.body.key === MATRIX_WORKFLOW && res.body.version === 1 ? undefined : 'another version',
        );
        await read('GET /workflows/:key/diff', `${w}/diff?from=1&to=1`);

        await write(
          'POST /workflows',
          'post',
          '/api/v1/workflows',
          { definition: { ...HANDOFF_DEFINITION, key: `matrix-created-${i}`, name: `矩阵测试新流程${i}` } },
          201,
          (res) => (res.body.key === `matrix-created-${i}` && res.body.validation?.valid ? undefined : 'not created'),
        );
        await write(
          'PUT /workflows/:key/draft',
          'put',
          `${w}/draft`,
          { definition: { ...HANDOFF_DEFINITION, key: MATRIX_WORKFLOW, name: `矩阵测试流程（${p}）` } },
          200,
          (res) => (res.body.name === `矩阵测试流程（${p}）` ? undefined : 'draft not saved'),
        );
        await write('POST /workflows/:key/validate', 'post', `${w}/validate`, {}, 200, (res) =>
          res.body.valid === true ? undefined : 'draft invalid',
        );
        await write('POST /workflows/:key/publish', 'post', `${w}/publish`, undefined, 201, (res) =>
          res.body.version === 2 ? undefined : `published version ${res.body.version}`,
        );
        await write(
          'POST /workflows/:key/versions/:version/deprecation',
          'post',
          `${w}/versions/1/deprecation`,
          { deprecated: true },
          200,
          (res) => (res.body.deprecated === true ? undefined : 'not deprecated'),
        );
        await write(
          'POST /workflows/:key/migrations',
          'post',
          `${w}/migrations`,
          { fromVersion: 1, toVersion: 2, dryRun: may(p, Permission.WorkflowWrite) },
          200,
          (res) =>
            res.body.ok === true && res.body.openTasks === 1 && !res.body.applied ? undefined : 'unexpected report',
        );
        await write('POST /workflows/:key/simulate', 'post', `${w}/simulate`, { steps: [] }, 200);
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'webhooks: every route needs webhook:admin; refusals write nothing',
      async () => {
        const wrong: string[] = [];
        const hook = (
          route: string,
          method: Method,
          url: string,
          body: object | undefined,
          ok: number,
          verify?: Case['verify'],
        ) =>
          check(p, wrong, {
            route,
            method,
            url: `/api/v1/webhooks${url}`,
            body,
            perm: Permission.WebhookAdmin,
            ok,
            verify,
          });
        // a caller that may create one works on its own endpoint; the others try the setup's
        const created = await hook(
          'POST /webhooks',
          'post',
          '',
          { url: WEBHOOK_URL, secret: 'matrix-secret-abcdefghij', events: ['*'], enabled: false },
          201,
          (res) => (res.body.url === WEBHOOK_URL && !('secret' in res.body) ? undefined : 'wrong endpoint'),
        );
        const id = created.status === 201 ? (created.body.id as string) : fx.webhookId;
        await hook('GET /webhooks', 'get', '', undefined, 200, (res) =>
          (res.body.items as { id: string; secret?: string }[]).some((e) => e.id === fx.webhookId && !e.secret)
            ? undefined
            : 'the setup endpoint is not listed',
        );
        await hook('GET /webhooks/:id', 'get', `/${fx.webhookId}`, undefined, 200, (res) =>
          res.body.id === fx.webhookId ? undefined : 'another endpoint',
        );
        await hook(
          'PATCH /webhooks/:id',
          'patch',
          `/${id}`,
          { url: 'https://203.0.113.66/elsewhere', events: ['*'] },
          200,
          (res) => (res.body.url === 'https://203.0.113.66/elsewhere' ? undefined : 'not changed'),
        );
        await hook(
          'GET /webhooks/deliveries',
          'get',
          `/deliveries?endpointId=${fx.webhookId}`,
          undefined,
          200,
          (res) =>
            (res.body.items as { id: string }[]).some((d) => d.id === fx.deliveryId)
              ? undefined
              : 'delivery not listed',
        );
        await hook('GET /webhooks/deliveries/:id', 'get', `/deliveries/${fx.deliveryId}`, undefined, 200, (res) =>
          res.body.id === fx.deliveryId && res.body.endpointId === fx.webhookId ? undefined : 'another delivery',
        );
        await hook(
          'POST /webhooks/deliveries/:id/resend',
          'post',
          `/deliveries/${fx.failedDeliveryId}/resend`,
          undefined,
          202,
          (res) => (res.body.status === 'pending' && res.body.resends === 1 ? undefined : 'not re-queued'),
        );
        await hook('DELETE /webhooks/:id', 'delete', `/${id}`, undefined, 204);
        if (created.status === 201) {
          const gone = await send(p, 'get', `/api/v1/webhooks/${id}`);
          expect(gone.status).toBe(404);
        }
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );
  });

  /** Routes scoped to the caller's subtree (or to the caller), for the principals and a street-level administrator. */
  describe.each(SCOPED_PRINCIPALS)('%s: org units, users, budgets, supervision and notifications', (p) => {
    it(
      'lists org units and users of its subtree only, and reads exactly the users of its subtree (others 404)',
      async () => {
        const wrong: string[] = [];
        const own = pathOf(p);
        const dbUnits = (await t.ds.query('SELECT id, path, parent_id AS parentId FROM org_units')) as Unit[];
        const pathById = new Map(dbUnits.map((u) => [u.id, u.path]));

        // GET /org-units: every unit of the subtree, nothing else
        const all = await listAll<{ id: string }>(p, '/api/v1/org-units');
        const expectedAll = may(p, Permission.OrgRead) ? 200 : 403;
        if (all.status !== expectedAll) wrong.push(`GET /org-units: ${all.status} (expected ${expectedAll})`);
        else if (expectedAll === 200) {
          const inScope = dbUnits.filter((u) => u.path.startsWith(own)).map((u) => u.id);
          expect(all.items.map((u) => u.id).sort()).toEqual(inScope.sort());
        }
        // GET /org-units?parentId=: the children of any unit that lie in the subtree (an empty page, never a 404,
        // for a parent outside it)
        for (const parent of units.values()) {
          const res = await listAll<{ id: string }>(p, '/api/v1/org-units', { parentId: parent.id });
          const children = dbUnits
            .filter((u) => u.parentId === parent.id && u.path.startsWith(own))
            .map((u) => u.id)
            .sort();
          if (res.status !== expectedAll) wrong.push(`GET /org-units?parentId [${parent.code}]: ${res.status}`);
          else if (res.status === 200 && JSON.stringify(res.items.map((u) => u.id).sort()) !== JSON.stringify(children))
            wrong.push(
              `GET /org-units?parentId [${parent.code}]: ${res.items.length} units (expected ${children.length})`,
            );
        }

        // GET /users: the users of the subtree (every seeded one there), nothing else; phones for admins only
        const expectedUsers = may(p, Permission.UserRead) ? 200 : 403;
        const listed = await listAll<{ id: string; orgUnitId: string; phone?: unknown }>(p, '/api/v1/users');
        if (listed.status !== expectedUsers) wrong.push(`GET /users: ${listed.status} (expected ${expectedUsers})`);
        else if (expectedUsers === 200) {
          const outside = listed.items.filter((u) => !pathById.get(u.orgUnitId)?.startsWith(own));
          if (outside.length) wrong.push(`GET /users lists ${outside.length} users outside the subtree`);
          const ids = new Set(listed.items.map((u) => u.id));
          const missing = seedUsers.filter((u) => u.path.startsWith(own) && !ids.has(u.id));
          if (missing.length) wrong.push(`GET /users misses ${missing.map((u) => u.username).join(', ')}`);
          if (!may(p, Permission.UserWrite) && listed.items.some((u) => 'phone' in u))
            wrong.push('GET /users shows phone numbers to a non-administrator');
        }
        // GET /users?orgUnitId=: a unit's users when it lies in the subtree, an empty page otherwise
        for (const unit of units.values()) {
          const res = await listAll<{ id: string; orgUnitId: string }>(p, '/api/v1/users', { orgUnitId: unit.id });
          const seeded = seedUsers.filter((u) => u.orgUnitId === unit.id).map((u) => u.id);
          if (res.status !== expectedUsers) wrong.push(`GET /users?orgUnitId [${unit.code}]: ${res.status}`);
          else if (res.status === 200) {
            const visible = canSee(p, unit.path);
            const ids = res.items.map((u) => u.id);
            if (res.items.some((u) => u.orgUnitId !== unit.id) || (!visible && ids.length))
              wrong.push(`GET /users?orgUnitId [${unit.code}] lists users it should not`);
            if (visible && seeded.some((id) => !ids.includes(id)))
              wrong.push(`GET /users?orgUnitId [${unit.code}] misses seeded users`);
          }
        }
        // GET /users/:id for every seeded user
        for (const u of seedUsers) {
          await check(p, wrong, {
            route: 'GET /users/:id',
            target: u.username,
            method: 'get',
            url: `/api/v1/users/${u.id}`,
            perm: Permission.UserRead,
            scope: u.path,
            ok: 200,
            verify: (res) =>
              res.body.id !== u.id || res.body.username !== u.username
                ? 'another user'
                : 'passwordHash' in res.body || (!may(p, Permission.UserWrite) && 'phone' in res.body)
                  ? 'a field it must not show'
                  : undefined,
          });
        }
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'org unit, user and budget writes need the permission and a target in its subtree; refusals write nothing',
      async () => {
        const wrong: string[] = [];
        const i = SCOPED_PRINCIPALS.indexOf(p);
        const sandbox = units.get(SANDBOX_UNIT)!;
        // POST /org-units under the sandbox department (a success leaves a unit there, disabled below)
        const created = await check(p, wrong, {
          route: 'POST /org-units',
          target: sandbox.code,
          method: 'post',
          url: '/api/v1/org-units',
          body: {
            code: `matrix-unit-${i}`,
            name: `矩阵测试科室${i}`,
            kind: CHILD_KIND[sandbox.kind],
            parentId: sandbox.id,
          },
          perm: Permission.OrgWrite,
          scope: sandbox.path,
          ok: 201,
          verify: (res) =>
            res.body.parentId === sandbox.id && res.body.path.startsWith(sandbox.path) ? undefined : 'wrong parent',
        });
        // PATCH /org-units/:id on every unit: an allowed rename keeps the name, a refused one would change it
        for (const u of units.values()) {
          const c: Case = {
            route: 'PATCH /org-units/:id',
            target: u.code,
            method: 'patch',
            url: `/api/v1/org-units/${u.id}`,
            body: {},
            perm: Permission.OrgWrite,
            scope: u.path,
            ok: 200,
            verify: (res) => (res.body.id === u.id && res.body.name === u.name ? undefined : 'another unit or name'),
          };
          c.body = expectedStatus(p, c) === 200 ? { name: u.name } : { name: '越权改名', disabled: true };
          await check(p, wrong, c);
        }
        if (created.status === 201) {
          const res = await send(p, 'patch', `/api/v1/org-units/${created.body.id}`, { disabled: true });
          expect([res.status, res.body.disabled]).toEqual([200, true]);
        }

        // POST /users in the sandbox (an auditor, disabled below: no notices, no logins)
        const user = await check(p, wrong, {
          route: 'POST /users',
          target: sandbox.code,
          method: 'post',
          url: '/api/v1/users',
          body: {
            username: `matrix-user-${i}`,
            displayName: `矩阵测试${i}`,
            orgUnitId: sandbox.id,
            roles: may(p, Permission.UserWrite) ? ['auditor'] : ['admin'],
            password: 'matrix-password-0123',
          },
          perm: Permission.UserWrite,
          scope: sandbox.path,
          ok: 201,
          verify: (res) => (res.body.orgUnitId === sandbox.id && !('password' in res.body) ? undefined : 'wrong user'),
        });
        // PATCH /users/:id on every seeded user: an allowed write keeps the display name, a refused one would make an
        // administrator
        for (const u of seedUsers) {
          const c: Case = {
            route: 'PATCH /users/:id',
            target: u.username,
            method: 'patch',
            url: `/api/v1/users/${u.id}`,
            perm: Permission.UserWrite,
            scope: u.path,
            ok: 200,
            verify: (res) => (res.body.id === u.id && res.body.displayName === u.displayName ? undefined : 'changed'),
          };
          c.body =
            expectedStatus(p, c) === 200
              ? { displayName: u.displayName }
              : { displayName: '越权', roles: ['admin'], disabled: u.id !== s[p].user.id };
          await check(p, wrong, c);
        }
        if (user.status === 201) {
          const res = await send(p, 'patch', `/api/v1/users/${user.body.id}`, { disabled: true });
          expect([res.status, res.body.disabled]).toEqual([200, true]);
        }

        // budgets: read on every unit is covered above; a credit to the sandbox department
        await check(p, wrong, {
          route: 'POST /org-units/:id/budget/credits',
          target: sandbox.code,
          method: 'post',
          url: `/api/v1/org-units/${sandbox.id}/budget/credits`,
          body: { amountFen: may(p, Permission.BudgetWrite) ? 1 : 100_000, note: '矩阵测试拨款' },
          perm: Permission.BudgetWrite,
          scope: sandbox.path,
          ok: 201,
          verify: (res) => (res.body.orgUnitId === sandbox.id && res.body.entry?.amountFen === 1 ? undefined : 'wrong'),
        });
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'supervision lists exactly the entries of tasks owned or assigned in its subtree',
      async () => {
        const listed = await listAll<{ id: string; taskId: string }>(p, '/api/v1/supervision');
        expect(listed.status).toBe(may(p, Permission.TaskRead) ? 200 : 403);
        // every entry listed, the setup's or another suite's, is of a task the caller may see
        const listedTasks = [...new Set(listed.items.map((e) => e.taskId))];
        const paths = listedTasks.length
          ? ((await t.ds.query(
              `SELECT id, owner_path AS ownerPath, assignee_path AS assigneePath FROM tasks WHERE id IN (${listedTasks.map(() => '?').join(',')})`,
              listedTasks,
            )) as { id: string; ownerPath: string; assigneePath: string }[])
          : [];
        expect(paths.filter((x) => !canSee(p, x.ownerPath, x.assigneePath)).map((x) => x.id)).toEqual([]);
        // and every entry of a visible supervised task is listed
        for (const task of tasks.filter((x) => fx.supervised.includes(x.id))) {
          const entries = (await t.ds.query('SELECT id FROM supervision_entries WHERE task_id = ?', [task.id])) as {
            id: string;
          }[];
          const shown = listed.items.filter((e) => e.taskId === task.id).length;
          expect([task.label, shown]).toEqual([
            task.label,
            canSee(p, task.ownerPath, task.assigneePath) ? entries.length : 0,
          ]);
        }
      },
      TEST_MS,
    );

    it(
      'notifications: lists exactly its own; marking someone else’s read is 404 and writes nothing',
      async () => {
        const wrong: string[] = [];
        const me = s[p].user.id;
        const mine = (await t.ds.query('SELECT id FROM notifications WHERE user_id = ? ORDER BY id', [me])) as {
          id: string;
        }[];
        const listed = await listAll<{ id: string }>(p, '/api/v1/notifications');
        expect(listed.status).toBe(may(p, Permission.NotificationRead) ? 200 : 403);
        expect(listed.items.map((n) => n.id).sort()).toEqual(mine.map((n) => n.id).sort());

        // one notification of every other user that has any
        const others = (await t.ds.query(
          'SELECT MIN(id) AS id FROM notifications WHERE user_id <> ? GROUP BY user_id ORDER BY 1',
          [me],
        )) as { id: string }[];
        expect(others.length).toBeGreaterThan(0);
        for (const n of [...others, { id: '00000000-0000-7000-8000-000000000000' }]) {
          await check(p, wrong, {
            route: 'POST /notifications/:id/read',
            target: n.id,
            method: 'post',
            url: `/api/v1/notifications/${n.id}/read`,
            perm: Permission.NotificationRead,
            own: false,
            ok: 200,
          });
        }
        // its own, when it has one: marked read, and gone from the unread list
        if (mine.length) {
          const own = mine[0].id;
          const res = await check(p, wrong, {
            route: 'POST /notifications/:id/read',
            target: 'own',
            method: 'post',
            url: `/api/v1/notifications/${own}/read`,
            perm: Permission.NotificationRead,
            ok: 200,
            verify: (r) => (r.body.id === own && r.body.readAt ? undefined : 'not marked read'),
          });
          if (res.status === 200) {
            const unread = await listAll<{ id: string }>(p, '/api/v1/notifications', { unread: 'true' });
            expect(unread.items.map((n) => n.id)).not.toContain(own);
          }
        }
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );
  });

  /**
   * A street-level administrator manages its subtree's units, users and budgets, but not the settings that are one
   * for the whole district (DISTRICT_WIDE_PERMISSIONS): catalogs and duty lists, the calendar, workflows, webhooks.
   * Those are 403 for it, and the tests after the first show that none of them reaches outside its subtree.
   */
  describe(`${STREET_ADMIN} (an administrator of one street) on district-wide routes`, () => {
    const p = STREET_ADMIN;

    it(
      'every district-wide write, and every webhook route, is 403 FORBIDDEN and writes nothing; catalog and workflow reads answer',
      async () => {
        const wrong: string[] = [];
        const w = `/api/v1/workflows/${MATRIX_WORKFLOW}`;
        const cases: [string, Method, string, object | undefined, Permission][] = [
          [
            'POST /catalog/categories',
            'post',
            '/api/v1/catalog/categories',
            { code: 'MATRIX_STREET_ADMIN', name: '街道越权' },
            Permission.CatalogWrite,
          ],
          [
            'PATCH /catalog/categories/:code',
            'patch',
            `/api/v1/catalog/categories/${fx.categoryCode}`,
            { name: '街道改名' },
            Permission.CatalogWrite,
          ],
          [
            'POST /catalog/powers',
            'post',
            '/api/v1/catalog/powers',
            { code: 'MATRIX_STREET_POWER', name: '街道越权' },
            Permission.CatalogWrite,
          ],
          [
            'PATCH /catalog/powers/:code',
            'patch',
            `/api/v1/catalog/powers/${fx.powerCode}`,
            { name: '街道改名' },
            Permission.CatalogWrite,
          ],
          ['PUT /catalog/duties', 'put', '/api/v1/catalog/duties', { byKind: {}, byUnit: {} }, Permission.CatalogWrite],
          [
            'PUT /calendar/:year',
            'put',
            '/api/v1/calendar/2095',
            { holidays: [], workdays: [] },
            Permission.CatalogWrite,
          ],
          [
            'POST /workflows',
            'post',
            '/api/v1/workflows',
            { definition: { ...HANDOFF_DEFINITION, key: 'matrix-street' } },
            Permission.WorkflowWrite,
          ],
          [
            'PUT /workflows/:key/draft',
            'put',
            `${w}/draft`,
            { definition: { ...HANDOFF_DEFINITION, key: MATRIX_WORKFLOW } },
            Permission.WorkflowWrite,
          ],
          ['POST /workflows/:key/publish', 'post', `${w}/publish`, undefined, Permission.WorkflowWrite],
          [
            'POST /workflows/:key/versions/:version/deprecation',
            'post',
            `${w}/versions/1/deprecation`,
            { deprecated: false },
            Permission.WorkflowWrite,
          ],
          [
            'POST /workflows/:key/migrations',
            'post',
            `${w}/migrations`,
            { fromVersion: 1, toVersion: 2, dryRun: false },
            Permission.WorkflowWrite,
          ],
          [
            'POST /webhooks',
            'post',
            '/api/v1/webhooks',
            { url: 'http://127.0.0.1:9/street', events: ['*'] },
            Permission.WebhookAdmin,
          ],
          ['GET /webhooks', 'get', '/api/v1/webhooks', undefined, Permission.WebhookAdmin],
          ['GET /webhooks/:id', 'get', `/api/v1/webhooks/${fx.webhookId}`, undefined, Permission.WebhookAdmin],
          [
            'PATCH /webhooks/:id',
            'patch',
            `/api/v1/webhooks/${fx.webhookId}`,
            { enabled: false },
            Permission.WebhookAdmin,
          ],
          ['DELETE /webhooks/:id', 'delete', `/api/v1/webhooks/${fx.webhookId}`, undefined, Permission.WebhookAdmin],
          ['GET /webhooks/deliveries', 'get', '/api/v1/webhooks/deliveries', undefined, Permission.WebhookAdmin],
          [
            'GET /webhooks/deliveries/:id',
            'get',
            `/api/v1/webhooks/deliveries/${fx.failedDeliveryId}`,
            undefined,
            Permission.WebhookAdmin,
          ],
          [
            'POST /webhooks/deliveries/:id/resend',
            'post',
            `/api/v1/webhooks/deliveries/${fx.failedDeliveryId}/resend`,
            undefined,
            Permission.WebhookAdmin,
          ],
        ];
        expect(cases.every(([, , , , perm]) => DISTRICT_WIDE_PERMISSIONS.has(perm) && !may(p, perm))).toBe(true);
        for (const [route, method, url, body, perm] of cases)
          await check(p, wrong, { route, method, url, body, perm, ok: 200 });
        for (const [route, url, perm] of [
          ['GET /catalog/categories', '/api/v1/catalog/categories', Permission.CatalogRead],
          ['GET /workflows', '/api/v1/workflows', Permission.WorkflowRead],
          ['GET /calendar/:year', '/api/v1/calendar/2026', Permission.CatalogRead],
        ] as const)
          await check(p, wrong, { route, method: 'get', url, perm, ok: 200 });
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'replacing the duty lists with what it reads leaves the lists of units outside its subtree as they are',
      async () => {
        const unitLists = async () =>
          (await t.ds.query(
            `SELECT o.code, o.path, d.category_code AS categoryCode FROM duties d JOIN org_units o ON o.id = d.scope_value
              WHERE d.scope = 'unit' ORDER BY o.code, d.category_code`,
          )) as { code: string; path: string; categoryCode: string }[];
        const before = await unitLists();
        const outsideBefore = before.filter((r) => !canSee(p, r.path));
        expect(outsideBefore.length).toBeGreaterThan(0);
        const full = await t.http().get('/api/v1/catalog/duties').set(s.admin.auth);
        expect(full.status).toBe(200);
        const read = await send(p, 'get', '/api/v1/catalog/duties');
        expect(read.status).toBe(200);
        try {
          const res = await send(p, 'put', '/api/v1/catalog/duties', {
            byKind: read.body.byKind,
            byUnit: read.body.byUnit,
          });
          const after = await unitLists();
          expect({
            refusedOrDone: [200, 403, 404].includes(res.status),
            outside: after.filter((r) => !canSee(p, r.path)),
          }).toEqual({ refusedOrDone: true, outside: outsideBefore });
        } finally {
          // whatever happened, the district's lists are put back for the suites that share the database
          if (JSON.stringify(await unitLists()) !== JSON.stringify(before)) {
            const restored = await t
              .http()
              .put('/api/v1/catalog/duties')
              .set(s.admin.auth)
              .send({ byKind: full.body.byKind, byUnit: full.body.byUnit });
            expect(restored.status).toBe(200);
          }
        }
      },
      TEST_MS,
    );

    it(
      'neither lists, reads nor re-sends webhook deliveries about tasks outside its subtree',
      async () => {
        const wrong: string[] = [];
        const about = (await t.ds.query(
          `SELECT d.id, d.task_id AS taskId, t.owner_path AS ownerPath, t.assignee_path AS assigneePath
             FROM webhook_deliveries d JOIN tasks t ON t.id = d.task_id`,
        )) as { id: string; taskId: string; ownerPath: string; assigneePath: string }[];
        const outside = new Set(about.filter((d) => !canSee(p, d.ownerPath, d.assigneePath)).map((d) => d.id));
        expect(outside.has(fx.deliveryId) && outside.has(fx.outsideFailedDeliveryId)).toBe(true);

        const listed = await listAll<{ id: string }>(p, '/api/v1/webhooks/deliveries');
        const shown = listed.items.filter((d) => outside.has(d.id)).length;
        if (listed.status !== 403 && shown)
          wrong.push(
            `GET /webhooks/deliveries: ${listed.status} with ${shown} deliveries about tasks outside its subtree`,
          );
        for (const id of [fx.deliveryId, fx.outsideFailedDeliveryId]) {
          const res = await send(p, 'get', `/api/v1/webhooks/deliveries/${id}`);
          if (res.status !== 403 && res.status !== 404)
            wrong.push(`GET /webhooks/deliveries/${id}: ${res.status} (a delivery about another street's task)`);
        }
        const before = await fingerprint();
        const resent = await send(p, 'post', `/api/v1/webhooks/deliveries/${fx.outsideFailedDeliveryId}/resend`);
        if (resent.status !== 403 && resent.status !== 404)
          wrong.push(`POST /webhooks/deliveries/:id/resend: ${resent.status} (a delivery about another street's task)`);
        if ((await fingerprint()) !== before) wrong.push('POST /webhooks/deliveries/:id/resend wrote to the database');
        expect(wrong).toEqual([]);
      },
      TEST_MS,
    );

    it(
      'does not migrate the workflow version of tasks outside its subtree',
      async () => {
        const versionOf = async () =>
          Number(
            (
              (await t.ds.query('SELECT workflow_version AS v FROM tasks WHERE id = ?', [fx.workflowTaskId])) as {
                v: number;
              }[]
            )[0].v,
          );
        const [task] = (await t.ds.query('SELECT owner_path AS o, assignee_path AS a FROM tasks WHERE id = ?', [
          fx.workflowTaskId,
        ])) as { o: string; a: string }[];
        expect(canSee(p, task.o, task.a)).toBe(false);
        expect(await versionOf()).toBe(1);
        const before = await fingerprint();
        const res = await send(p, 'post', `/api/v1/workflows/${MATRIX_WORKFLOW}/migrations`, {
          fromVersion: 1,
          toVersion: 2,
          dryRun: false,
        });
        const refused = res.status === 403 || res.status === 404;
        expect({
          status: res.status,
          migratedTasks: res.body.migratedTasks ?? 0,
          taskVersion: await versionOf(),
          unchanged: !refused || (await fingerprint()) === before,
        }).toEqual({ status: refused ? res.status : 200, migratedTasks: 0, taskVersion: 1, unchanged: true });
      },
      TEST_MS,
    );
  });

  it(
    'admin-only routes are 403 for every other role, and write nothing',
    async () => {
      const before = await dbFingerprint(t);
      const jd2 = units.get('xh-jd2')!.id;
      const wrong: string[] = [];
      for (const p of PRINCIPALS.filter((x) => x !== 'admin')) {
        const own = s[p].user.orgUnitId;
        const calls: [string, string, object][] = [
          ['post', '/api/v1/org-units', { code: 'xh-jd2-sq8', name: '越权社区', kind: 'community', parentId: jd2 }],
          ['patch', `/api/v1/org-units/${own}`, { name: '改名' }],
          ['patch', `/api/v1/org-units/${jd2}`, { disabled: true }],
          [
            'post',
            '/api/v1/users',
            {
              username: 'matrix-sneaky',
              displayName: '越权',
              orgUnitId: own,
              roles: ['admin'],
              password: 'long-enough-pass',
            },
          ],
          ['patch', `/api/v1/users/${s[p].user.id}`, { roles: ['admin'] }],
          ['post', '/api/v1/workflows', { definition: 'key: sneaky' }],
          ['put', '/api/v1/workflows/handoff/draft', { definition: 'key: handoff' }],
          ['post', '/api/v1/workflows/handoff/validate', { definition: 'key: handoff' }],
          ['post', '/api/v1/workflows/handoff/publish', {}],
          [
            'post',
            '/api/v1/catalog/categories',
            {
              code: 'SNEAKY',
              name: '越权',
              ownerOrgUnitId: own,
              requiredPowerCodes: [],
              onCommunityAccessList: false,
              workflowKey: 'handoff',
            },
          ],
          ['patch', '/api/v1/catalog/categories/SANITATION_GRID_CLEANING', { name: '改名' }],
          [
            'post',
            '/api/v1/catalog/powers',
            { code: 'SNEAKY', name: '越权', legalBasis: '无', holderOrgUnitId: own, bearsMoney: true },
          ],
          ['put', '/api/v1/catalog/duties', { byKind: {}, byUnit: {} }],
          ['put', '/api/v1/calendar/2027', { days: [] }],
          ['post', `/api/v1/org-units/${own}/budget/credits`, { amountFen: 100, note: '越权拨款' }],
          ['post', `/api/v1/org-units/${jd2}/budget/credits`, { amountFen: 100, note: '越权拨款' }],
        ];
        for (const [method, url, body] of calls) {
          const res = await (
            t.http() as unknown as Record<string, (u: string) => ReturnType<ReturnType<TestApp['http']>['post']>>
          )
            [method](url)
            .set(s[p].auth)
            .send(body);
          if (res.status !== 403 || res.body.code !== 'FORBIDDEN')
            wrong.push(`${p} ${method.toUpperCase()} ${url} → ${res.status} ${res.body.code}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(await dbFingerprint(t)).toBe(before);
    },
    TEST_MS,
  );
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { permissionsOf, Permission } from '@gridflow/common';
import { createTestApp, login, type Session, type TestApp } from '../helpers/app.js';
import { dbFingerprint } from '../helpers/fingerprint.js';

/**
 * A generated access matrix (issue 6, "Fuzzing and security suites"): principals × org units × read endpoints, and
 * principals × tasks × read and write endpoints. The expectation is computed from the materialised paths alone
 * (DESIGN §2): allowed iff the target unit's path (for a task: its owner's or its assignee's) starts with the
 * caller's unit path; otherwise exactly 404 — never 403, never 200 — and nothing written. Admin-only routes are 403
 * for every other role.
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

const SEED_UNITS = (
  JSON.parse(readFileSync('config/seed/org-units.json', 'utf8')) as { units: { code: string }[] }
).units.map((u) => u.code);

interface Unit {
  id: string;
  code: string;
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
  const s = {} as Record<PrincipalName, Session>;
  const units = new Map<string, Unit>(); // by code
  const tasks: MatrixTask[] = [];

  const pathOf = (p: PrincipalName) => [...units.values()].find((u) => u.id === s[p].user.orgUnitId)!.path;
  const canSee = (p: PrincipalName, ...paths: string[]) => paths.some((x) => x.startsWith(pathOf(p)));
  const may = (p: PrincipalName, perm: Permission) => permissionsOf(s[p].user.roles).has(perm);

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
    const rows = (await t.ds.query('SELECT id, code, path FROM org_units')) as Unit[];
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
  }, TEST_MS);
  afterAll(async () => {
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
          for (const suffix of ['', '/events', '/events/verify', '/grants', '/ledger', '/actions']) {
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

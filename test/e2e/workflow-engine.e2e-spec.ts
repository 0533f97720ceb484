import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createTestApp, login, type Session, type TestApp } from '../helpers/app.js';
import { headsOffTheTail } from '../helpers/invariants.js';

const handoff = () => JSON.parse(readFileSync('config/workflows/handoff.json', 'utf8')) as Record<string, unknown> & {
  key: string;
  states: { id: string }[];
  actions: { id: string; from: string[]; to?: string }[];
};
const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

describe('workflow definitions, versions and the task shell (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let dept: Session; // landscape office leader
  let street: Session;

  beforeAll(async () => {
    t = await createTestApp();
    [admin, dept, street] = await Promise.all([login(t, 'admin'), login(t, 'xh-ylj-leader'), login(t, 'xh-jd1-leader')]);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('validation', () => {
    const cases: Array<[string, (d: ReturnType<typeof handoff>) => void, string, string]> = [
      ['unknown target state', (d) => (d.actions[0].to = 'nowhere'), 'UNKNOWN_STATE', '/actions/0/to'],
      ['unknown guard', (d) => ((d.actions[0] as { guards?: unknown[] }).guards = [{ name: 'moonIsFull' }]), 'UNKNOWN_GUARD', '/actions/0/guards/0/name'],
      ['unknown effect', (d) => ((d.actions[1] as { effects?: unknown[] }).effects = [{ name: 'teleport' }]), 'UNKNOWN_EFFECT', '/actions/1/effects/0/name'],
      ['duplicate state', (d) => d.states.push({ ...d.states[1] }), 'DUPLICATE_ID', '/states/8/id'],
      [
        'payload schema that does not compile',
        (d) => ((d.actions[0] as { payloadSchema?: unknown }).payloadSchema = { type: 'object', properties: { a: { type: 'no-such-type' } } }),
        'PAYLOAD_SCHEMA_INVALID',
        '/actions/0/payloadSchema',
      ],
      ['action from a final state', (d) => d.actions[0].from.push('closed'), 'ACTION_FROM_FINAL_STATE', '/actions/0/from/1'],
    ];

    it.each(cases)('%s is refused with its code and path', async (_name, mutate, code, path) => {
      const def = handoff();
      mutate(def);
      const res = await t.http().post('/api/v1/workflows/handoff/validate').set(admin.auth).send({ definition: def });
      expect(res.status).toBe(200);
      expect(res.body.valid).toBe(false);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ code, path })]));
    });

    it('the shipped definition is valid, also as YAML text', async () => {
      const ok = await t.http().post('/api/v1/workflows/handoff/validate').set(admin.auth).send({ definition: handoff() });
      expect(ok.body).toEqual({ valid: true, errors: [] });
      const yaml = 'key: tiny\nname: Tiny\nstates:\n  - {id: a, initial: true}\n  - {id: b, final: true}\nactions:\n  - {id: go, from: [a], to: b, actors: [{role: leader, relation: owner}]}\n';
      const y = await t.http().post('/api/v1/workflows/tiny/validate').set(admin.auth).send({ definition: yaml });
      expect(y.body).toEqual({ valid: true, errors: [] });
    });

    it('non-admins cannot touch definitions', async () => {
      expect((await t.http().get('/api/v1/workflows').set(street.auth)).status).toBe(403);
      expect((await t.http().post('/api/v1/workflows/handoff/publish').set(dept.auth)).status).toBe(403);
    });

    it('publishing an invalid draft is refused with the errors and no version is written', async () => {
      const def = { ...handoff(), key: 'broken-flow', name: '有错的流程' };
      (def.actions[0] as { to?: string }).to = 'nowhere';
      const created = await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: def });
      expect(created.status).toBe(201);
      expect(created.body.validation.valid).toBe(false);
      const pub = await t.http().post('/api/v1/workflows/broken-flow/publish').set(admin.auth);
      expect(pub.status).toBe(422);
      expect(pub.body.code).toBe('WORKFLOW_INVALID');
      expect(pub.body.details.errors[0]).toEqual(expect.objectContaining({ code: 'UNKNOWN_STATE', path: '/actions/0/to' }));
      expect((await t.http().get('/api/v1/workflows/broken-flow/versions').set(admin.auth)).body.items).toEqual([]);
    });
  });

  it('publish → pin → edit draft → publish v2 leaves running tasks on v1; diff, deprecate and migrate', async () => {
    const key = 'pinning-flow';
    const v1 = { ...handoff(), key, name: '版本测试流程' };
    expect((await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: v1 })).status).toBe(201);
    const p1 = await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth);
    expect(p1.status).toBe(201);
    expect(p1.body).toEqual({
      key,
      version: 1,
      definition: expect.objectContaining({ key }),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      publishedAt: expect.any(String),
      publishedBy: admin.user.id,
      deprecated: false,
    });
    // a category on this workflow, so new tasks pin to it
    const cat = await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
      code: 'PINNING_TEST',
      name: '版本测试事项',
      ownerOrgUnitId: dept.user.orgUnitId,
      requiredPowerCodes: [],
      onCommunityAccessList: true,
      workflowKey: key,
    });
    expect(cat.status).toBe(201);
    const first = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '任务一', categoryCode: 'PINNING_TEST', dueAt: inDays(10) });
    expect(first.status).toBe(201);
    expect(first.body).toEqual(expect.objectContaining({ workflowKey: key, workflowVersion: 1, state: 'in_progress', version: 1 }));

    const v2 = { ...v1, name: '版本测试流程（第二版）', description: 'renamed labels' };
    const draft = await t.http().put(`/api/v1/workflows/${key}/draft`).set(admin.auth).send({ definition: v2 });
    expect(draft.status).toBe(200);
    expect(draft.body.validation.valid).toBe(true);
    const p2 = await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth);
    expect(p2.body.version).toBe(2);
    expect((await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth)).body.code).toBe('WORKFLOW_DRAFT_UNCHANGED');

    const again = await t.http().get(`/api/v1/tasks/${first.body.id}`).set(dept.auth);
    expect(again.body.workflowVersion).toBe(1);
    const second = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '任务二', categoryCode: 'PINNING_TEST', dueAt: inDays(10) });
    expect(second.body.workflowVersion).toBe(2);

    const diff = await t.http().get(`/api/v1/workflows/${key}/diff?from=1&to=2`).set(admin.auth);
    expect(diff.status).toBe(200);
    expect(diff.body.diff).toEqual(expect.objectContaining({ states: expect.any(Object), actions: expect.any(Object) }));

    // deprecate v2: new tasks fall back to v1
    const dep = await t.http().post(`/api/v1/workflows/${key}/versions/2/deprecation`).set(admin.auth).send({ deprecated: true });
    expect(dep.body.deprecated).toBe(true);
    const third = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '任务三', categoryCode: 'PINNING_TEST', dueAt: inDays(10) });
    expect(third.body.workflowVersion).toBe(1);

    // migrate the open v1 tasks to v2: dry run reports, apply moves and audits
    const dry = await t.http().post(`/api/v1/workflows/${key}/migrations`).set(admin.auth).send({ fromVersion: 1, toVersion: 2, dryRun: true });
    expect(dry.body).toEqual(expect.objectContaining({ ok: true, openTasks: 2, byState: { in_progress: 2 }, applied: false }));
    expect((await t.http().get(`/api/v1/tasks/${first.body.id}`).set(dept.auth)).body.workflowVersion).toBe(1);
    const applied = await t.http().post(`/api/v1/workflows/${key}/migrations`).set(admin.auth).send({ fromVersion: 1, toVersion: 2, dryRun: false });
    expect(applied.body).toEqual(expect.objectContaining({ applied: true, migratedTasks: 2 }));
    expect((await t.http().get(`/api/v1/tasks/${first.body.id}`).set(dept.auth)).body.workflowVersion).toBe(2);
    const events = await t.http().get(`/api/v1/tasks/${first.body.id}/events`).set(dept.auth);
    expect(events.body.items.map((e: { action: string }) => e.action)).toEqual(['create', 'migrate-version']);
    expect((await t.http().get(`/api/v1/tasks/${first.body.id}/events/verify`).set(dept.auth)).body).toEqual({ valid: true, count: 2, brokenAtSeq: null });
    // each migrated task's row points at its migrate-version event
    expect(await headsOffTheTail(t, [first.body.id, third.body.id])).toEqual([]);
  });

  it('migration is refused when an open task sits in a state the target lacks', async () => {
    const key = 'shrinking-flow';
    const v1 = { ...handoff(), key, name: '缩减流程' };
    await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: v1 });
    await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth);
    await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
      code: 'SHRINK_TEST', name: '缩减测试', ownerOrgUnitId: dept.user.orgUnitId, requiredPowerCodes: [], onCommunityAccessList: true, workflowKey: key,
    });
    const task = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '旧任务', categoryCode: 'SHRINK_TEST', dueAt: inDays(5) });
    expect(task.status).toBe(201);
    // v2 without in_progress: a tiny two-state flow
    const tiny = { key, name: '缩减流程 v2', states: [{ id: 'open', initial: true }, { id: 'done', final: true }], actions: [{ id: 'finish', from: ['open'], to: 'done', actors: [{ role: 'leader', relation: 'owner' }] }] };
    await t.http().put(`/api/v1/workflows/${key}/draft`).set(admin.auth).send({ definition: tiny });
    await t.http().post(`/api/v1/workflows/${key}/publish`).set(admin.auth);
    const dry = await t.http().post(`/api/v1/workflows/${key}/migrations`).set(admin.auth).send({ fromVersion: 1, toVersion: 2, dryRun: true });
    expect(dry.body).toEqual(expect.objectContaining({ ok: false, missingStates: ['in_progress'] }));
    const apply = await t.http().post(`/api/v1/workflows/${key}/migrations`).set(admin.auth).send({ fromVersion: 1, toVersion: 2, dryRun: false });
    expect(apply.status).toBe(422);
    expect(apply.body.code).toBe('MIGRATION_NOT_POSSIBLE');
    expect((await t.http().get(`/api/v1/tasks/${task.body.id}`).set(dept.auth)).body.workflowVersion).toBe(1);
  });

  it('simulates a countersign: all three must approve; nothing is written', async () => {
    const before = Number(((await t.ds.query('SELECT COUNT(*) AS n FROM task_events')) as { n: number }[])[0].n);
    const directory = { 'leader:assignee': ['a1'], 'leader:owner': ['o1'], 'leader:ownerSuperior': ['s1'] };
    const submit = { actor: { roles: ['leader'], relation: 'assignee' }, action: 'submit', payload: { summary: '申请' } };
    const approve = (userId: string, relation: string) => ({ actor: { userId, roles: ['leader'], relation }, action: 'approve', payload: {} });
    const res = await t
      .http()
      .post('/api/v1/workflows/approval-countersign/simulate')
      .set(admin.auth)
      .send({ directory, steps: [submit, approve('a1', 'assignee'), approve('o1', 'owner'), approve('s1', 'ownerSuperior')] });
    expect(res.status).toBe(200);
    const states = res.body.trace.map((s: { toState: string | null }) => s.toState);
    expect(states).toEqual(['draft', 'countersign', 'countersign', 'countersign', 'approved']);
    expect(res.body.finalState).toBe('approved');

    const twoOfThree = await t
      .http()
      .post('/api/v1/workflows/approval-countersign/simulate')
      .set(admin.auth)
      .send({ directory, steps: [submit, approve('a1', 'assignee'), approve('o1', 'owner')] });
    expect(twoOfThree.body.finalState).toBe('countersign');
    const after = Number(((await t.ds.query('SELECT COUNT(*) AS n FROM task_events')) as { n: number }[])[0].n);
    expect(after).toBe(before);
  });

  describe('task actions through the shell', () => {
    let taskId: string;
    beforeAll(async () => {
      const res = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '园林整治专项', categoryCode: 'LANDSCAPE_RECTIFICATION', dueAt: inDays(30) });
      expect(res.status).toBe(201);
      taskId = res.body.id;
    });

    it('lists only the actions the caller may perform now, with payload schemas', async () => {
      const mine = await t.http().get(`/api/v1/tasks/${taskId}/actions`).set(dept.auth);
      expect(mine.status).toBe(200);
      const ids = mine.body.items.map((a: { id: string }) => a.id);
      expect(ids).toEqual(expect.arrayContaining(['report-progress', 'submit', 'cancel']));
      expect(ids).not.toContain('accept');
      const rp = mine.body.items.find((a: { id: string }) => a.id === 'report-progress');
      expect(rp.payloadSchema).toEqual(expect.objectContaining({ type: 'object' }));
      // another department cannot even see the task
      const other = await login(t, 'xh-cgj-leader');
      expect((await t.http().get(`/api/v1/tasks/${taskId}/actions`).set(other.auth)).status).toBe(404);
    });

    it('refuses a bad payload, then reports progress; a stale If-Match is 409', async () => {
      const bad = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).send({ percent: 140 });
      expect(bad.status).toBe(422);
      expect(bad.body.code).toBe('PAYLOAD_INVALID');
      const cur = (await t.http().get(`/api/v1/tasks/${taskId}`).set(dept.auth)).body.version;
      const ok = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).set('If-Match', `"${cur}"`).send({ percent: 40, note: '已完成勘察' });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual(expect.objectContaining({ progress: 40, version: cur + 1, state: 'in_progress' }));
      const stale = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).set('If-Match', `"${cur}"`).send({ percent: 50 });
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('VERSION_CONFLICT');
      expect(stale.body.details.currentVersion).toBe(cur + 1);
    });

    it('an action the state does not offer is refused; an actor without the relation is 403', async () => {
      const na = await t.http().post(`/api/v1/tasks/${taskId}/actions/accept`).set(dept.auth).send({});
      expect(na.status).toBe(409);
      expect(na.body.code).toBe('ACTION_NOT_AVAILABLE');
      const staff = await login(t, 'xh-ylj-staff');
      const np = await t.http().post(`/api/v1/tasks/${taskId}/actions/cancel`).set(staff.auth).send({});
      expect(np.status).toBe(403);
      expect(np.body.code).toBe('NOT_PERMITTED');
    });

    it('honours Idempotency-Key: same key and body replays, other body is 422', async () => {
      const body = { percent: 55 };
      const a = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).set('Idempotency-Key', 'rp-55').send(body);
      const b = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).set('Idempotency-Key', 'rp-55').send(body);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.body).toEqual(a.body);
      expect(b.headers['idempotent-replayed']).toBe('true');
      const c = await t.http().post(`/api/v1/tasks/${taskId}/actions/report-progress`).set(dept.auth).set('Idempotency-Key', 'rp-55').send({ percent: 60 });
      expect(c.status).toBe(422);
      expect(c.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      const events = await t.http().get(`/api/v1/tasks/${taskId}/events`).set(dept.auth);
      expect(events.body.items.filter((e: { payload: { percent?: number } }) => e.payload.percent === 55)).toHaveLength(1);
    });

    it('20 concurrent submissions of one action: exactly one succeeds, one event is written', async () => {
      const res = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '并发测试', categoryCode: 'LANDSCAPE_RECTIFICATION', dueAt: inDays(30) });
      const id = res.body.id;
      const version = res.body.version;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          t.http().post(`/api/v1/tasks/${id}/actions/submit`).set(dept.auth).set('If-Match', `"${version}"`).send({ summary: '已完成' }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 409)).toBe(true);
      const events = await t.http().get(`/api/v1/tasks/${id}/events`).set(dept.auth);
      expect(events.body.items.map((e: { action: string }) => e.action)).toEqual(['create', 'submit']);
      expect((await t.http().get(`/api/v1/tasks/${id}`).set(dept.auth)).body.state).toBe('submitted');
    });

    it('the event chain verifies, and detects tampering', async () => {
      const ok = await t.http().get(`/api/v1/tasks/${taskId}/events/verify`).set(dept.auth);
      expect(ok.body.valid).toBe(true);
      expect(ok.body.count).toBeGreaterThanOrEqual(3);
      await t.ds.query("UPDATE task_events SET payload = '{\"percent\":99}' WHERE task_id = ? AND seq = 2", [taskId]);
      const bad = await t.http().get(`/api/v1/tasks/${taskId}/events/verify`).set(dept.auth);
      expect(bad.body).toEqual({ valid: false, count: ok.body.count, brokenAtSeq: 2 });
    });
  });
});

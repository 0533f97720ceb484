import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';

describe('org tree, scope and errors (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let streetLeader: Session; // xh-jd1
  let communityLeader: Session; // xh-jd1-sq1
  const count = async (table: string) =>
    Number(((await t.ds.query(`SELECT COUNT(*) AS n FROM ${table}`)) as { n: number }[])[0].n);

  beforeAll(async () => {
    t = await createTestApp();
    [admin, streetLeader, communityLeader] = await Promise.all([
      login(t, 'admin'),
      login(t, 'xh-jd1-leader'),
      login(t, 'xh-jd1-sq1-leader'),
    ]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('a community leader cannot read a sibling community or another street: 404, not 403', async () => {
    for (const code of ['xh-jd1-sq2', 'xh-jd2', 'xh-jd2-sq1', 'xh-jd1', 'xh']) {
      const res = await t
        .http()
        .get(`/api/v1/org-units/${await unitId(t, code)}`)
        .set(communityLeader.auth);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    }
    const own = await t
      .http()
      .get(`/api/v1/org-units/${await unitId(t, 'xh-jd1-sq1-wg1')}`)
      .set(communityLeader.auth);
    expect(own.status).toBe(200);
  });

  it('a street leader reads its communities and lists exactly its subtree', async () => {
    const sq = await t
      .http()
      .get(`/api/v1/org-units/${await unitId(t, 'xh-jd1-sq3')}`)
      .set(streetLeader.auth);
    expect(sq.status).toBe(200);
    expect(sq.body).toEqual({
      id: expect.any(String),
      code: 'xh-jd1-sq3',
      name: expect.any(String),
      kind: 'community',
      parentId: await unitId(t, 'xh-jd1'),
      path: expect.stringMatching(/^\/.+\/$/),
      disabled: false,
    });

    const all = await t.http().get('/api/v1/org-units?limit=200').set(streetLeader.auth);
    expect(all.status).toBe(200);
    // the street, 3 sections, 3 communities and 9 grids
    expect(all.body.items).toHaveLength(16);
    expect(all.body.items.every((u: { code: string }) => u.code.startsWith('xh-jd1'))).toBe(true);
    expect(all.body.nextCursor).toBeNull();

    const communities = await t.http().get('/api/v1/org-units?kind=community').set(streetLeader.auth);
    expect(communities.body.items.map((u: { code: string }) => u.code).sort()).toEqual([
      'xh-jd1-sq1',
      'xh-jd1-sq2',
      'xh-jd1-sq3',
    ]);
  });

  it('pages through the whole tree with keyset cursors, without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await t
        .http()
        .get('/api/v1/org-units')
        .query({ limit: 7, ...(cursor ? { cursor } : {}) })
        .set(admin.auth);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((u: { id: string }) => u.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(await count('org_units'));
  });

  it('non-admins cannot create org units (403) and nothing is written', async () => {
    const before = await count('org_units');
    const res = await t
      .http()
      .post('/api/v1/org-units')
      .set(streetLeader.auth)
      .send({ code: 'xh-jd1-sq9', name: '新风社区', kind: 'community', parentId: await unitId(t, 'xh-jd1') });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
    expect(await count('org_units')).toBe(before);
  });

  it('an admin creates, renames and disables a unit; kinds must fit the tree', async () => {
    const street = await unitId(t, 'xh-jd2');
    const created = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .send({ code: 'xh-jd2-sq4', name: '新风社区', kind: 'community', parentId: street });
    expect(created.status).toBe(201);
    expect(created.body.parentId).toBe(street);
    expect(created.body.path.endsWith(`${created.body.id}/`)).toBe(true);

    const dup = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .send({ code: 'xh-jd2-sq4', name: '重复', kind: 'community', parentId: street });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('ORG_UNIT_CODE_TAKEN');

    const gridUnderStreet = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .send({ code: 'xh-jd2-wg9', name: '错误网格', kind: 'grid', parentId: street });
    expect(gridUnderStreet.status).toBe(422);
    expect(gridUnderStreet.body.code).toBe('ORG_UNIT_PARENT_INVALID');

    const renamed = await t
      .http()
      .patch(`/api/v1/org-units/${created.body.id}`)
      .set(admin.auth)
      .send({ name: '新风社区居委会' });
    expect(renamed.body.name).toBe('新风社区居委会');

    const busy = await t.http().patch(`/api/v1/org-units/${street}`).set(admin.auth).send({ disabled: true });
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('ORG_UNIT_HAS_ACTIVE_CHILDREN');

    const off = await t.http().patch(`/api/v1/org-units/${created.body.id}`).set(admin.auth).send({ disabled: true });
    expect(off.status).toBe(200);
    expect(off.body.disabled).toBe(true);
  });

  it('bad bodies are 400 with each bad field listed, unknown fields refused, and nothing written', async () => {
    const before = await count('org_units');
    const res = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .send({ code: 'BAD CODE', name: '', kind: 'village', parentId: 'not-a-uuid', colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    const fields = (res.body.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['code', 'colour', 'kind', 'name', 'parentId']);
    expect(res.body.correlationId).toEqual(expect.any(String));
    expect(await count('org_units')).toBe(before);
  });

  it('PATCH with null for a required field is 400, not a 500 or a NULL written', async () => {
    const id = await unitId(t, 'xh-jd1-sq2');
    const res = await t.http().patch(`/api/v1/org-units/${id}`).set(admin.auth).send({ name: null });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(['name']);
    const user = await t
      .http()
      .patch(`/api/v1/users/${streetLeader.user.id}`)
      .set(admin.auth)
      .send({ displayName: null, roles: null });
    expect(user.status).toBe(400);
    expect((await t.http().get(`/api/v1/org-units/${id}`).set(admin.auth)).body.name).toEqual(expect.any(String));
  });

  it('malformed JSON is 400, an oversized body 413, and neither leaks internals', async () => {
    const bad = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .set('Content-Type', 'application/json')
      .send('{"code": ');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('MALFORMED_JSON');
    const big = await t
      .http()
      .post('/api/v1/org-units')
      .set(admin.auth)
      .send({ code: 'xh-big', name: 'x'.repeat(1100 * 1024), kind: 'community', parentId: await unitId(t, 'xh-jd1') });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('PAYLOAD_TOO_LARGE');
    for (const r of [bad, big]) expect(JSON.stringify(r.body)).not.toMatch(/at .*\.js|node_modules|SELECT|stack/i);
  });

  it('keeps a client correlation id and echoes it in the body and header', async () => {
    const res = await t
      .http()
      .get('/api/v1/org-units/not-a-uuid')
      .set(admin.auth)
      .set('X-Correlation-Id', 'trace-abc-12345');
    expect(res.status).toBe(400);
    expect(res.headers['x-correlation-id']).toBe('trace-abc-12345');
    expect(res.body.correlationId).toBe('trace-abc-12345');
  });

  it('unknown routes are 404 in the same error shape', async () => {
    const res = await t.http().get('/api/v1/nothing-here').set(admin.auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      statusCode: 404,
      code: expect.any(String),
      message: expect.any(String),
      correlationId: expect.any(String),
    });
  });

  it('lists users for admins in the DESIGN shape; leaders are refused; auditors see only their subtree', async () => {
    const res = await t.http().get('/api/v1/users?limit=200').set(admin.auth);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThanOrEqual(61);
    for (const u of res.body.items) {
      // phone (for SMS notices) is shown to administrators only
      expect(Object.keys(u).sort()).toEqual([
        'disabled',
        'displayName',
        'id',
        'orgUnitId',
        'phone',
        'roles',
        'username',
      ]);
    }
    expect((await t.http().get('/api/v1/users').set(streetLeader.auth)).status).toBe(403);

    const created = await t
      .http()
      .post('/api/v1/users')
      .set(streetLeader.auth)
      .send({
        username: 'sneaky',
        displayName: 'x',
        orgUnitId: streetLeader.user.orgUnitId,
        roles: ['admin'],
        password: 'long-enough-pass',
      });
    expect(created.status).toBe(403);
  });

  it('an admin cannot create a user in a unit outside its subtree, and a bad role is 400', async () => {
    const bad = await t
      .http()
      .post('/api/v1/users')
      .set(admin.auth)
      .send({
        username: 'badrole',
        displayName: '某人',
        orgUnitId: await unitId(t, 'xh-jd1'),
        roles: ['mayor'],
        password: 'long-enough-pass',
      });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { field: string }) => d.field)).toEqual(['roles']);
  });

  it('health reports database and redis up without a token; docs are served with bearer auth', async () => {
    const health = await t.http().get('/health');
    expect(health.status).toBe(200);
    expect(health.body.info).toEqual({ database: expect.objectContaining({ status: 'up' }), redis: { status: 'up' } });

    const doc = await t.http().get('/api/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes.bearer).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/auth/login', '/api/v1/org-units/{id}', '/api/v1/users']),
    );
    expect((await t.http().get('/api/docs/')).status).toBe(200);
  });
});

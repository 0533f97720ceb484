import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';

interface Category {
  code: string;
  name: string;
  ownerOrgUnitId: string;
  requiredPowerCodes: string[];
  onCommunityAccessList: boolean;
  workflowKey: string;
}
interface Power {
  code: string;
  name: string;
  legalBasis: string;
  holderOrgUnitId: string;
  bearsMoney: boolean;
}

describe('catalogs and budgets (e2e)', () => {
  let t: TestApp;
  let admin: Session;
  let streetLeader: Session; // xh-jd1
  let communityLeader: Session; // xh-jd1-sq1
  let auditor: Session; // xh
  const count = async (sql: string, params: unknown[] = []) =>
    Number(((await t.ds.query(sql, params)) as { n: number | string }[])[0].n);
  const fieldsOf = (body: { details?: { field: string }[] }) => (body.details ?? []).map((d) => d.field).sort();
  const balanceInDb = async (orgUnitId: string) => {
    const rows = (await t.ds.query('SELECT balance_fen AS b FROM accounts WHERE id = ?', [`org-${orgUnitId}`])) as {
      b: string;
    }[];
    return rows[0] ? Number(rows[0].b) : 0;
  };
  const entriesOf = (orgUnitId: string) =>
    count('SELECT COUNT(*) AS n FROM ledger_entries WHERE debit_account = ? OR credit_account = ?', [
      `org-${orgUnitId}`,
      `org-${orgUnitId}`,
    ]);

  beforeAll(async () => {
    t = await createTestApp();
    [admin, streetLeader, communityLeader, auditor] = await Promise.all([
      login(t, 'admin'),
      login(t, 'xh-jd1-leader'),
      login(t, 'xh-jd1-sq1-leader'),
      login(t, 'xh-audit'),
    ]);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('catalogs', () => {
    it('any authenticated user lists the seeded categories in the DESIGN shape', async () => {
      const res = await t.http().get('/api/v1/catalog/categories').set(communityLeader.auth);
      expect(res.status).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      const items = res.body.items as Category[];
      expect(items.length).toBeGreaterThanOrEqual(10);
      for (const c of items) {
        expect(Object.keys(c).sort()).toEqual(
          ['code', 'name', 'onCommunityAccessList', 'ownerOrgUnitId', 'requiredPowerCodes', 'workflowKey', 'timerPolicy'].sort(),
        );
      }
      const landscape = items.find((c) => c.code === 'LANDSCAPE_RECTIFICATION');
      expect(landscape).toEqual({
        code: 'LANDSCAPE_RECTIFICATION',
        name: '园林景观整治',
        ownerOrgUnitId: await unitId(t, 'xh-ylj'),
        requiredPowerCodes: ['CREW_COMMAND', 'PAYMENT_SETTLEMENT'],
        onCommunityAccessList: false,
        workflowKey: 'handoff',
        timerPolicy: null,
      });
      expect((await t.http().get('/api/v1/catalog/categories')).status).toBe(401);
    });

    it('lists the seeded powers in the DESIGN shape', async () => {
      const res = await t.http().get('/api/v1/catalog/powers').set(streetLeader.auth);
      expect(res.status).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      const items = res.body.items as Power[];
      expect(items.length).toBeGreaterThanOrEqual(14);
      for (const p of items) {
        expect(Object.keys(p).sort()).toEqual(['bearsMoney', 'code', 'holderOrgUnitId', 'legalBasis', 'name']);
      }
      expect(items.find((p) => p.code === 'PAYMENT_SETTLEMENT')).toEqual({
        code: 'PAYMENT_SETTLEMENT',
        name: '工程款项结算权',
        legalBasis: '《城市绿化条例》；《中华人民共和国预算法》',
        holderOrgUnitId: await unitId(t, 'xh-ylj'),
        bearsMoney: true,
      });
      expect(items.find((p) => p.code === 'CREW_COMMAND')?.bearsMoney).toBe(false);
    });

    it('lists the seeded duty lists: every kind, and per-unit lists within the caller’s subtree only', async () => {
      const all = await t.http().get('/api/v1/catalog/duties').set(admin.auth);
      expect(all.status).toBe(200);
      expect(all.body.byKind).toEqual(
        expect.objectContaining({
          street: ['GARBAGE_SORTING_SUPERVISION', 'SANITATION_GRID_CLEANING'],
          section: [],
          community: ['ELDERLY_CARE_VISITS', 'SANITATION_GRID_CLEANING'],
          grid: ['SANITATION_GRID_CLEANING'],
        }),
      );
      const ks3a = await unitId(t, 'xh-jd1-ks3');
      const ks3b = await unitId(t, 'xh-jd2-ks3');
      expect(all.body.byUnit[ks3a]).toEqual(['GARBAGE_SORTING_SUPERVISION', 'SANITATION_GRID_CLEANING']);
      expect(all.body.byUnit[ks3b]).toEqual(['GARBAGE_SORTING_SUPERVISION', 'SANITATION_GRID_CLEANING']);

      const mine = await t.http().get('/api/v1/catalog/duties').set(streetLeader.auth);
      expect(mine.status).toBe(200);
      expect(Object.keys(mine.body.byUnit)).toEqual([ks3a]);
    });

    it('non-admins cannot write catalogs (403) and nothing is written', async () => {
      const before = await count('SELECT COUNT(*) AS n FROM categories');
      const body = {
        code: 'SNEAKY_CATEGORY',
        name: '越权',
        ownerOrgUnitId: streetLeader.user.orgUnitId,
        requiredPowerCodes: [],
        onCommunityAccessList: true,
        workflowKey: 'handoff',
      };
      for (const who of [streetLeader, auditor]) {
        const res = await t.http().post('/api/v1/catalog/categories').set(who.auth).send(body);
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('FORBIDDEN');
      }
      const patch = await t
        .http()
        .patch('/api/v1/catalog/categories/LANDSCAPE_RECTIFICATION')
        .set(streetLeader.auth)
        .send({ name: 'x' });
      expect(patch.status).toBe(403);
      const power = await t.http().post('/api/v1/catalog/powers').set(communityLeader.auth).send({});
      expect(power.status).toBe(403);
      const duties = await t
        .http()
        .put('/api/v1/catalog/duties')
        .set(streetLeader.auth)
        .send({ byKind: {}, byUnit: {} });
      expect(duties.status).toBe(403);
      expect(await count('SELECT COUNT(*) AS n FROM categories')).toBe(before);
      expect(await count("SELECT COUNT(*) AS n FROM categories WHERE name = 'x'")).toBe(0);
      expect(await count('SELECT COUNT(*) AS n FROM duties')).toBeGreaterThan(0);
    });

    it('an admin creates and edits a power, then a category that requires it', async () => {
      const ylj = await unitId(t, 'xh-ylj');
      const cgj = await unitId(t, 'xh-cgj');
      const power = await t.http().post('/api/v1/catalog/powers').set(admin.auth).send({
        code: 'TREE_FELLING_APPROVAL',
        name: '城市树木砍伐审批',
        legalBasis: '《城市绿化条例》',
        holderOrgUnitId: ylj,
        bearsMoney: false,
      });
      expect(power.status).toBe(201);
      expect(power.body).toEqual({
        code: 'TREE_FELLING_APPROVAL',
        name: '城市树木砍伐审批',
        legalBasis: '《城市绿化条例》',
        holderOrgUnitId: ylj,
        bearsMoney: false,
      });
      const dupPower = await t
        .http()
        .post('/api/v1/catalog/powers')
        .set(admin.auth)
        .send({ ...power.body, name: '重复' });
      expect(dupPower.status).toBe(409);
      expect(dupPower.body.code).toBe('POWER_CODE_TAKEN');

      const editedPower = await t
        .http()
        .patch('/api/v1/catalog/powers/TREE_FELLING_APPROVAL')
        .set(admin.auth)
        .send({ bearsMoney: true, legalBasis: '《城市绿化条例》第二十条' });
      expect(editedPower.status).toBe(200);
      expect(editedPower.body).toEqual({ ...power.body, bearsMoney: true, legalBasis: '《城市绿化条例》第二十条' });

      const category = await t
        .http()
        .post('/api/v1/catalog/categories')
        .set(admin.auth)
        .send({
          code: 'GREEN_BELT_MAINTENANCE',
          name: '绿化带养护',
          ownerOrgUnitId: ylj,
          requiredPowerCodes: ['TREE_FELLING_APPROVAL', 'PAYMENT_SETTLEMENT'],
          onCommunityAccessList: false,
          workflowKey: 'handoff',
        });
      expect(category.status).toBe(201);
      expect(category.body).toEqual({
        code: 'GREEN_BELT_MAINTENANCE',
        name: '绿化带养护',
        ownerOrgUnitId: ylj,
        requiredPowerCodes: ['TREE_FELLING_APPROVAL', 'PAYMENT_SETTLEMENT'],
        onCommunityAccessList: false,
        workflowKey: 'handoff',
        timerPolicy: null,
      });

      const edited = await t
        .http()
        .patch('/api/v1/catalog/categories/GREEN_BELT_MAINTENANCE')
        .set(admin.auth)
        .send({
          name: '道路绿化带养护',
          ownerOrgUnitId: cgj,
          requiredPowerCodes: ['PAYMENT_SETTLEMENT'],
          onCommunityAccessList: true,
        });
      expect(edited.status).toBe(200);
      expect(edited.body).toEqual({
        code: 'GREEN_BELT_MAINTENANCE',
        name: '道路绿化带养护',
        ownerOrgUnitId: cgj,
        requiredPowerCodes: ['PAYMENT_SETTLEMENT'],
        onCommunityAccessList: true,
        workflowKey: 'handoff',
        timerPolicy: null,
      });
      const listed = await t.http().get('/api/v1/catalog/categories').set(communityLeader.auth);
      expect((listed.body.items as Category[]).find((c) => c.code === 'GREEN_BELT_MAINTENANCE')).toEqual(edited.body);

      const dup = await t
        .http()
        .post('/api/v1/catalog/categories')
        .set(admin.auth)
        .send({ ...category.body, name: '重复' });
      expect(dup.status).toBe(409);
      expect(dup.body.code).toBe('CATEGORY_CODE_TAKEN');

      const missing = await t
        .http()
        .patch('/api/v1/catalog/categories/NO_SUCH_CATEGORY')
        .set(admin.auth)
        .send({ name: '无' });
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('CATEGORY_NOT_FOUND');
      const missingPower = await t
        .http()
        .patch('/api/v1/catalog/powers/NO_SUCH_POWER')
        .set(admin.auth)
        .send({ name: '无' });
      expect(missingPower.status).toBe(404);
      expect(missingPower.body.code).toBe('POWER_NOT_FOUND');
    });

    it('bad bodies are 400 with each bad field listed, and nothing is written', async () => {
      const categoriesBefore = await count('SELECT COUNT(*) AS n FROM categories');
      const powersBefore = await count('SELECT COUNT(*) AS n FROM powers');
      const bad = await t
        .http()
        .post('/api/v1/catalog/categories')
        .set(admin.auth)
        .send({
          code: 'lower_case',
          name: '',
          ownerOrgUnitId: 'not-a-uuid',
          requiredPowerCodes: ['ok_not'],
          onCommunityAccessList: 'yes',
          workflowKey: 'Handoff',
          colour: 'red',
        });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
      expect(fieldsOf(bad.body)).toEqual(
        [
          'code',
          'colour',
          'name',
          'onCommunityAccessList',
          'ownerOrgUnitId',
          'requiredPowerCodes',
          'workflowKey',
        ].sort(),
      );

      const badPower = await t
        .http()
        .post('/api/v1/catalog/powers')
        .set(admin.auth)
        .send({ code: 'X', name: 'x', legalBasis: 7, bearsMoney: 1 });
      expect(badPower.status).toBe(400);
      expect(fieldsOf(badPower.body)).toEqual(['bearsMoney', 'code', 'holderOrgUnitId', 'legalBasis']);

      const nulls = await t
        .http()
        .patch('/api/v1/catalog/categories/LANDSCAPE_RECTIFICATION')
        .set(admin.auth)
        .send({ name: null, workflowKey: null });
      expect(nulls.status).toBe(400);
      expect(fieldsOf(nulls.body)).toEqual(['name', 'workflowKey']);

      // well-formed, but naming things that do not exist: 422 with the unknown codes
      const unknownPowers = await t
        .http()
        .post('/api/v1/catalog/categories')
        .set(admin.auth)
        .send({
          code: 'GHOST_CATEGORY',
          name: '幽灵',
          ownerOrgUnitId: await unitId(t, 'xh-cgj'),
          requiredPowerCodes: ['ORDER_RECTIFICATION', 'NO_SUCH_POWER'],
          onCommunityAccessList: false,
          workflowKey: 'handoff',
        });
      expect(unknownPowers.status).toBe(422);
      expect(unknownPowers.body.code).toBe('UNKNOWN_POWER_CODES');
      expect(unknownPowers.body.details).toEqual({ codes: ['NO_SUCH_POWER'] });

      const unknownUnit = await t.http().post('/api/v1/catalog/powers').set(admin.auth).send({
        code: 'GHOST_POWER',
        name: '幽灵',
        legalBasis: '无',
        holderOrgUnitId: '00000000-0000-7000-8000-000000000000',
        bearsMoney: false,
      });
      expect(unknownUnit.status).toBe(422);
      expect(unknownUnit.body.code).toBe('UNKNOWN_ORG_UNITS');

      const patchUnknown = await t
        .http()
        .patch('/api/v1/catalog/categories/LANDSCAPE_RECTIFICATION')
        .set(admin.auth)
        .send({ requiredPowerCodes: ['NOPE_POWER'] });
      expect(patchUnknown.status).toBe(422);

      expect(await count('SELECT COUNT(*) AS n FROM categories')).toBe(categoriesBefore);
      expect(await count('SELECT COUNT(*) AS n FROM powers')).toBe(powersBefore);
      const [landscape] = (await t.ds.query(
        "SELECT required_power_codes AS r, name FROM categories WHERE code = 'LANDSCAPE_RECTIFICATION'",
      )) as { r: string; name: string }[];
      expect(landscape).toEqual({ r: 'CREW_COMMAND,PAYMENT_SETTLEMENT', name: '园林景观整治' });
    });

    it('an admin replaces the duty lists atomically; bad lists are refused and change nothing', async () => {
      const before = await t.http().get('/api/v1/catalog/duties').set(admin.auth);
      const ks3 = await unitId(t, 'xh-jd1-ks3');
      try {
        const badShape = await t
          .http()
          .put('/api/v1/catalog/duties')
          .set(admin.auth)
          .send({ byKind: { village: ['X_Y'] }, byUnit: { 'xh-jd1': ['lower'] } });
        expect(badShape.status).toBe(400);
        expect(fieldsOf(badShape.body)).toEqual(['byKind', 'byUnit']);
        const unknown = await t
          .http()
          .put('/api/v1/catalog/duties')
          .set(admin.auth)
          .send({ byKind: { grid: ['NO_SUCH_CATEGORY'] }, byUnit: {} });
        expect(unknown.status).toBe(422);
        expect(unknown.body.code).toBe('UNKNOWN_CATEGORY_CODES');
        expect((await t.http().get('/api/v1/catalog/duties').set(admin.auth)).body).toEqual(before.body);

        const replaced = await t
          .http()
          .put('/api/v1/catalog/duties')
          .set(admin.auth)
          .send({
            byKind: { community: ['ELDERLY_CARE_VISITS'], grid: ['SANITATION_GRID_CLEANING'] },
            byUnit: { [ks3]: ['STREET_VENDOR_RECTIFICATION'] },
          });
        expect(replaced.status).toBe(200);
        expect(replaced.body).toEqual({
          byKind: {
            district: [],
            department: [],
            street: [],
            section: [],
            community: ['ELDERLY_CARE_VISITS'],
            grid: ['SANITATION_GRID_CLEANING'],
          },
          byUnit: { [ks3]: ['STREET_VENDOR_RECTIFICATION'] },
        });
        expect(await count('SELECT COUNT(*) AS n FROM duties')).toBe(3);
      } finally {
        // restore the seeded lists for other suites
        const restored = await t.http().put('/api/v1/catalog/duties').set(admin.auth).send(before.body);
        expect(restored.status).toBe(200);
        expect(restored.body).toEqual(before.body);
      }
    });
  });

  describe('budgets', () => {
    it('a unit reads its own budget and its subtree’s; another street’s budget is 404', async () => {
      const sq1 = await unitId(t, 'xh-jd1-sq1');
      const own = await t.http().get(`/api/v1/org-units/${sq1}/budget`).set(communityLeader.auth);
      expect(own.status).toBe(200);
      expect(own.body).toEqual({ orgUnitId: sq1, balanceFen: await balanceInDb(sq1) });
      expect(own.body.balanceFen).toBeGreaterThan(0);

      const jd1 = await unitId(t, 'xh-jd1');
      const street = await t.http().get(`/api/v1/org-units/${jd1}/budget`).set(streetLeader.auth);
      expect(street.status).toBe(200);
      expect(street.body).toEqual({ orgUnitId: jd1, balanceFen: await balanceInDb(jd1) });
      expect((await t.http().get(`/api/v1/org-units/${sq1}/budget`).set(streetLeader.auth)).status).toBe(200);

      for (const code of ['xh-jd2', 'xh-jd2-sq1', 'xh-jd1', 'xh-jd1-sq2', 'xh-ajj']) {
        const res = await t
          .http()
          .get(`/api/v1/org-units/${await unitId(t, code)}/budget`)
          .set(communityLeader.auth);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      const unknown = await t
        .http()
        .get('/api/v1/org-units/00000000-0000-7000-8000-000000000000/budget')
        .set(admin.auth);
      expect(unknown.status).toBe(404);
    });

    it('a unit without a budget account reads a balance of 0', async () => {
      const grid = await unitId(t, 'xh-jd1-sq1-wg1');
      const res = await t.http().get(`/api/v1/org-units/${grid}/budget`).set(communityLeader.auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ orgUnitId: grid, balanceFen: 0 });
    });

    it('an admin credit raises the balance by exactly the amount and writes one ledger entry', async () => {
      const sq2 = await unitId(t, 'xh-jd2-sq2');
      const before = (await t.http().get(`/api/v1/org-units/${sq2}/budget`).set(admin.auth)).body.balanceFen as number;
      const entriesBefore = await entriesOf(sq2);
      const res = await t
        .http()
        .post(`/api/v1/org-units/${sq2}/budget/credits`)
        .set(admin.auth)
        .send({ amountFen: 1234567, note: '追加拨款：防汛专项经费' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        orgUnitId: sq2,
        balanceFen: before + 1234567,
        entry: {
          id: expect.any(String),
          taskId: null,
          debitAccount: `org-${sq2}`,
          creditAccount: 'external-appropriation',
          amountFen: 1234567,
          kind: 'appropriation',
          actorUserId: admin.user.id,
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      });
      expect(await entriesOf(sq2)).toBe(entriesBefore + 1);
      expect(await balanceInDb(sq2)).toBe(before + 1234567);
      const after = await t.http().get(`/api/v1/org-units/${sq2}/budget`).set(admin.auth);
      expect(after.body.balanceFen).toBe(before + 1234567);
      const [{ n: sum }] = (await t.ds.query('SELECT CAST(SUM(balance_fen) AS CHAR) AS n FROM accounts')) as {
        n: string;
      }[];
      expect(sum).toBe('0');

      // a unit with no account yet gets one on its first credit
      const grid = await unitId(t, 'xh-jd2-sq2-wg3');
      const first = await t
        .http()
        .post(`/api/v1/org-units/${grid}/budget/credits`)
        .set(admin.auth)
        .send({ amountFen: 500, note: '网格经费' });
      expect(first.status).toBe(201);
      expect(first.body.balanceFen).toBe(500);
    });

    it('bad amounts are 400 with the field listed, and the balance is unchanged', async () => {
      const sq3 = await unitId(t, 'xh-jd1-sq3');
      const before = await balanceInDb(sq3);
      const entriesBefore = await entriesOf(sq3);
      for (const amountFen of [0, -1, 1.5, '100', 10_000_000_000_001, null]) {
        const res = await t
          .http()
          .post(`/api/v1/org-units/${sq3}/budget/credits`)
          .set(admin.auth)
          .send({ amountFen, note: '错误金额' });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
        expect(fieldsOf(res.body)).toEqual(['amountFen']);
      }
      const noNote = await t
        .http()
        .post(`/api/v1/org-units/${sq3}/budget/credits`)
        .set(admin.auth)
        .send({ amountFen: 100 });
      expect(noNote.status).toBe(400);
      expect(fieldsOf(noNote.body)).toEqual(['note']);
      expect(await balanceInDb(sq3)).toBe(before);
      expect(await entriesOf(sq3)).toBe(entriesBefore);
    });

    it('only admins credit budgets (403); an unknown unit is 404; nothing is written', async () => {
      const sq1 = await unitId(t, 'xh-jd1-sq1');
      const before = await balanceInDb(sq1);
      for (const who of [streetLeader, communityLeader, auditor]) {
        const res = await t
          .http()
          .post(`/api/v1/org-units/${sq1}/budget/credits`)
          .set(who.auth)
          .send({ amountFen: 100, note: '自行拨款' });
        expect(res.status).toBe(403);
      }
      const unknown = await t
        .http()
        .post('/api/v1/org-units/00000000-0000-7000-8000-000000000000/budget/credits')
        .set(admin.auth)
        .send({ amountFen: 100, note: '无' });
      expect(unknown.status).toBe(404);
      expect(await balanceInDb(sq1)).toBe(before);
    });
  });
});

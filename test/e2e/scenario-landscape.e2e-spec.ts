import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, expectLedgerInvariants } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const WAN = 1_000_000; // 1万元 = 1,000,000 fen

/**
 * The landscape rectification case (DESIGN §1): the landscape office must delegate crew command and payment
 * settlement to the street with the money, or the handoff is refused.
 */
describe('scenario: landscape rectification (e2e)', () => {
  let t: TestApp;
  let office: Session; // 区园林绿化管理所 leader
  let street: Session; // 新华街道 leader
  let streetStaff: Session;
  let streetId: string;
  let taskId: string;
  let childId: string;
  let budgetBefore: number;

  const budget = async (s: Session, unit: string) =>
    (await t.http().get(`/api/v1/org-units/${unit}/budget`).set(s.auth)).body.balanceFen as number;
  const escrow = async (s: Session, id: string) =>
    (await t.http().get(`/api/v1/tasks/${id}`).set(s.auth)).body.escrowBalanceFen as number;

  beforeAll(async () => {
    t = await createTestApp();
    [office, street, streetStaff] = await Promise.all([
      login(t, 'xh-ylj-leader'),
      login(t, 'xh-jd1-leader'),
      login(t, 'xh-jd1-staff'),
    ]);
    streetId = await unitId(t, 'xh-jd1');
    budgetBefore = await budget(office, office.user.orgUnitId);
  });
  afterAll(async () => {
    await t.close();
  });

  it('the office opens a funded rectification task from its budget', async () => {
    const res = await t
      .http()
      .post('/api/v1/tasks')
      .set(office.auth)
      .send({
        title: '人民公园周边园林景观整治',
        categoryCode: 'LANDSCAPE_RECTIFICATION',
        dueAt: inDays(60),
        fundingFen: 100 * WAN,
      });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(
      expect.objectContaining({
        state: 'in_progress',
        escrowBalanceFen: 100 * WAN,
        ownerOrgUnitId: office.user.orgUnitId,
      }),
    );
    taskId = res.body.id;
    expect(await budget(office, office.user.orgUnitId)).toBe(budgetBefore - 100 * WAN);
  });

  it('a handoff without the powers is refused, naming the missing ones, and writes nothing', async () => {
    const before = Number(((await t.ds.query('SELECT COUNT(*) AS n FROM tasks')) as { n: number }[])[0].n);
    const res = await t
      .http()
      .post(`/api/v1/tasks/${taskId}/handoffs`)
      .set(office.auth)
      .send({
        handoffs: [{ assigneeOrgUnitId: streetId, fundingFen: 50 * WAN, grants: [] }],
      });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('POWER_MUST_FOLLOW_RESPONSIBILITY');
    expect(res.body.details.missingPowers.sort()).toEqual(['CREW_COMMAND', 'PAYMENT_SETTLEMENT']);
    expect(Number(((await t.ds.query('SELECT COUNT(*) AS n FROM tasks')) as { n: number }[])[0].n)).toBe(before);
    expect(await escrow(office, taskId)).toBe(100 * WAN);
  });

  it('a handoff without funding is refused', async () => {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${taskId}/handoffs`)
      .set(office.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: streetId,
            fundingFen: 0,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 30 * WAN }],
          },
        ],
      });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('FUNDS_MUST_FOLLOW_TASK');
  });

  it('a money-bearing grant without a cap is refused, naming the field', async () => {
    const res = await t.http().post(`/api/v1/tasks/${taskId}/handoffs`).set(office.auth).send({
      handoffs: [{ assigneeOrgUnitId: streetId, fundingFen: 50 * WAN, grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT' }] }],
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'handoffs.0.grants.1.capFen', errors: ['PAYMENT_SETTLEMENT bears money: its grant needs capFen'] }]);
  });

  it('with both powers and the money, the street receives the task', async () => {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${taskId}/handoffs`)
      .set(office.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: streetId,
            title: '人民公园周边园林景观整治（新华街道）',
            dueAt: inDays(45),
            fundingFen: 50 * WAN,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 30 * WAN }],
            terms: { assistanceMode: '园林所派技术员现场指导', obligations: '街道统一指挥施工队伍，按周报送进度' },
          },
        ],
      });
    expect(res.status).toBe(201);
    expect(res.body.items).toHaveLength(1);
    const child = res.body.items[0];
    expect(child).toEqual(
      expect.objectContaining({
        state: 'pending_acceptance',
        parentId: taskId,
        assigneeOrgUnitId: streetId,
        escrowBalanceFen: 50 * WAN,
      }),
    );
    childId = child.id;
    expect(await escrow(office, taskId)).toBe(50 * WAN);

    const grants = await t.http().get(`/api/v1/tasks/${childId}/grants`).set(street.auth);
    expect(
      grants.body.items
        .map((g: { powerCode: string; capFen: number | null; status: string }) => [g.powerCode, g.capFen, g.status])
        .sort(),
    ).toEqual([
      ['CREW_COMMAND', null, 'active'],
      ['PAYMENT_SETTLEMENT', 30 * WAN, 'active'],
    ]);
    const inbox = await t.http().get('/api/v1/tasks?view=inbox&categoryCode=LANDSCAPE_RECTIFICATION&limit=200').set(street.auth);
    expect(inbox.body.items.map((i: { id: string }) => i.id)).toContain(childId);
  });

  it('the street accepts and spends under its capped grant; above the cap it is refused', async () => {
    expect((await t.http().post(`/api/v1/tasks/${childId}/actions/accept`).set(street.auth).send({})).status).toBe(200);
    const first = await t
      .http()
      .post(`/api/v1/tasks/${childId}/expenses`)
      .set(streetStaff.auth)
      .send({ amountFen: 20 * WAN, payee: '绿源园林工程有限公司', note: '第一期工程款' });
    expect(first.status).toBe(201);
    expect(first.body.escrowBalanceFen).toBe(30 * WAN);
    expect(first.body.grant).toEqual(expect.objectContaining({ powerCode: 'PAYMENT_SETTLEMENT', spentFen: 20 * WAN }));

    const over = await t
      .http()
      .post(`/api/v1/tasks/${childId}/expenses`)
      .set(streetStaff.auth)
      .send({ amountFen: 15 * WAN, payee: '绿源园林工程有限公司' });
    expect(over.status).toBe(422);
    expect(over.body.code).toBe('GRANT_CAP_EXCEEDED');
    expect(over.body.details).toEqual(
      expect.objectContaining({ capFen: 30 * WAN, spentFen: 20 * WAN, amountFen: 15 * WAN }),
    );
    expect(await escrow(street, childId)).toBe(30 * WAN);

    const rest = await t
      .http()
      .post(`/api/v1/tasks/${childId}/expenses`)
      .set(streetStaff.auth)
      .send({ amountFen: 10 * WAN, payee: '绿源园林工程有限公司', note: '第二期工程款' });
    expect(rest.status).toBe(201);
    const ledger = await t.http().get(`/api/v1/tasks/${childId}/ledger`).set(street.auth);
    expect(ledger.body.items.map((e: { kind: string; amountFen: number }) => [e.kind, e.amountFen])).toEqual([
      ['funding', 50 * WAN],
      ['expense', 20 * WAN],
      ['expense', 10 * WAN],
    ]);
  });

  it('closure returns the unspent money up the chain and ends the grants', async () => {
    expect(
      (await t.http().post(`/api/v1/tasks/${childId}/actions/report-progress`).set(street.auth).send({ percent: 100 }))
        .status,
    ).toBe(200);
    expect(
      (
        await t
          .http()
          .post(`/api/v1/tasks/${childId}/actions/submit`)
          .set(street.auth)
          .send({ summary: '整治完成，已验收' })
      ).status,
    ).toBe(200);
    const approved = await t.http().post(`/api/v1/tasks/${childId}/actions/approve`).set(office.auth).send({});
    expect(approved.status).toBe(200);
    expect(approved.body).toEqual(expect.objectContaining({ state: 'closed', escrowBalanceFen: 0 }));
    expect(approved.body.grants.every((g: { status: string }) => g.status === 'revoked')).toBe(true);
    // 50 万 left on the parent + 20 万 unspent from the street
    expect(await escrow(office, taskId)).toBe(70 * WAN);

    // the office closes its own task: the rest goes back to its budget
    expect(
      (await t.http().post(`/api/v1/tasks/${taskId}/actions/submit`).set(office.auth).send({ summary: '全部完成' }))
        .status,
    ).toBe(200);
    const closed = await t.http().post(`/api/v1/tasks/${taskId}/actions/approve`).set(office.auth).send({});
    expect(closed.body.state).toBe('closed');
    expect(await budget(office, office.user.orgUnitId)).toBe(budgetBefore - 30 * WAN);

    await expectLedgerInvariants(t);
    await expectChainsVerify(t, office, [taskId, childId]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectLedgerInvariants } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const WAN = 1_000_000;

/** A cap bounds everything spent under a grant, including under the grants derived from it. */
describe('money grant caps across levels (e2e)', () => {
  let t: TestApp;
  let office: Session;
  let street: Session;
  let streetStaff: Session;
  let streetTask: string;
  const community: Record<string, { leader: Session; staff: Session; task: string }> = {};

  beforeAll(async () => {
    t = await createTestApp();
    [office, street, streetStaff] = await Promise.all([
      login(t, 'xh-ylj-leader'),
      login(t, 'xh-jd2-leader'),
      login(t, 'xh-jd2-staff'),
    ]);
    const root = await t
      .http()
      .post('/api/v1/tasks')
      .set(office.auth)
      .send({
        title: '东风公园绿地提升',
        categoryCode: 'LANDSCAPE_RECTIFICATION',
        dueAt: inDays(60),
        fundingFen: 100 * WAN,
      });
    const handed = await t
      .http()
      .post(`/api/v1/tasks/${root.body.id}/handoffs`)
      .set(office.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: await unitId(t, 'xh-jd2'),
            fundingFen: 50 * WAN,
            dueAt: inDays(40),
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 10 * WAN }],
          },
        ],
      });
    expect(handed.status).toBe(201);
    streetTask = handed.body.items[0].id;
    expect((await t.http().post(`/api/v1/tasks/${streetTask}/actions/accept`).set(street.auth).send({})).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it('the street spends part of its cap, then delegates the full cap to two communities', async () => {
    expect(
      (
        await t
          .http()
          .post(`/api/v1/tasks/${streetTask}/expenses`)
          .set(streetStaff.auth)
          .send({ amountFen: 6 * WAN, payee: '苗木供应商' })
      ).status,
    ).toBe(201);
    const handoffs = [];
    for (const c of ['sq1', 'sq2']) {
      handoffs.push({
        assigneeOrgUnitId: await unitId(t, `xh-jd2-${c}`),
        fundingFen: 10 * WAN,
        grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 10 * WAN }],
      });
    }
    const res = await t.http().post(`/api/v1/tasks/${streetTask}/handoffs`).set(street.auth).send({ handoffs });
    expect(res.status).toBe(201);
    for (const [i, c] of ['sq1', 'sq2'].entries()) {
      const leader = await login(t, `xh-jd2-${c}-leader`);
      const staff = await login(t, `xh-jd2-${c}-staff`);
      community[c] = { leader, staff, task: res.body.items[i].id };
      expect(
        (await t.http().post(`/api/v1/tasks/${community[c].task}/actions/agree`).set(leader.auth).send({})).status,
      ).toBe(200);
    }
  });

  it('spending under the derived grants counts against the street’s cap', async () => {
    const first = await t
      .http()
      .post(`/api/v1/tasks/${community.sq1.task}/expenses`)
      .set(community.sq1.staff.auth)
      .send({ amountFen: 4 * WAN, payee: '施工队' });
    expect(first.status).toBe(201);
    // sq2's own cap (10万) is untouched, but the street's 10万 is used up: 6万 + 4万
    const second = await t
      .http()
      .post(`/api/v1/tasks/${community.sq2.task}/expenses`)
      .set(community.sq2.staff.auth)
      .send({ amountFen: 1 * WAN, payee: '施工队' });
    expect(second.status).toBe(422);
    expect(second.body.code).toBe('GRANT_CAP_EXCEEDED');
    expect(second.body.details).toEqual(
      expect.objectContaining({ capFen: 10 * WAN, spentFen: 10 * WAN, amountFen: 1 * WAN, delegated: true }),
    );
    // and the street itself cannot spend more either
    const street2 = await t
      .http()
      .post(`/api/v1/tasks/${streetTask}/expenses`)
      .set(streetStaff.auth)
      .send({ amountFen: 1, payee: '苗木供应商' });
    expect(street2.status).toBe(422);
    expect(
      (await t.http().get(`/api/v1/tasks/${community.sq2.task}`).set(community.sq2.leader.auth)).body.escrowBalanceFen,
    ).toBe(10 * WAN);
    await expectLedgerInvariants(t);
  });

  it('an approved extension moves the due time and the grants with it, never past the parent', async () => {
    const beyond = await t
      .http()
      .post(`/api/v1/tasks/${streetTask}/actions/request-extension`)
      .set(street.auth)
      .send({ dueAt: inDays(70), reason: '雨季施工' });
    expect(beyond.status).toBe(200);
    const refused = await t
      .http()
      .post(`/api/v1/tasks/${streetTask}/actions/approve-extension`)
      .set(office.auth)
      .send({});
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('DUE_TIME_AFTER_PARENT');
    expect(
      (await t.http().post(`/api/v1/tasks/${streetTask}/actions/deny-extension`).set(office.auth).send({})).status,
    ).toBe(200);

    const newDue = inDays(50);
    expect(
      (
        await t
          .http()
          .post(`/api/v1/tasks/${streetTask}/actions/request-extension`)
          .set(street.auth)
          .send({ dueAt: newDue, reason: '雨季施工' })
      ).status,
    ).toBe(200);
    const ok = await t.http().post(`/api/v1/tasks/${streetTask}/actions/approve-extension`).set(office.auth).send({});
    expect(ok.status).toBe(200);
    expect(ok.body.dueAt).toBe(newDue);
    expect(ok.body.counters.extensions).toBe(1);
    expect(ok.body.grants.map((g: { validUntil: string }) => g.validUntil)).toEqual([newDue, newDue]);
  });
});

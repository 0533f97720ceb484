import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, expectLedgerInvariants } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const WAN = 1_000_000;

/** A street returns an under-funded demolition for insufficient funds; the bureau revises it and it is accepted. */
describe('scenario: return for insufficient funds, then a revised handoff (e2e)', () => {
  let t: TestApp;
  let bureau: Session; // 城管局
  let street: Session; // 东风街道
  let rootId: string;
  let firstId: string;
  const grants = [{ powerCode: 'ORDER_RECTIFICATION' }, { powerCode: 'ILLEGAL_BUILDING_DEMOLITION' }];

  beforeAll(async () => {
    t = await createTestApp();
    [bureau, street] = await Promise.all([login(t, 'xh-cgj-leader'), login(t, 'xh-jd2-leader')]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('the street returns the task with a coded reason; the money and the authority go back', async () => {
    const root = await t
      .http()
      .post('/api/v1/tasks')
      .set(bureau.auth)
      .send({
        title: '东风路违法建设拆除',
        categoryCode: 'ILLEGAL_BUILDING_DEMOLITION',
        dueAt: inDays(20),
        fundingFen: 20 * WAN,
      });
    rootId = root.body.id;
    const handed = await t
      .http()
      .post(`/api/v1/tasks/${rootId}/handoffs`)
      .set(bureau.auth)
      .send({
        handoffs: [{ assigneeOrgUnitId: await unitId(t, 'xh-jd2'), fundingFen: 1 * WAN, grants }],
      });
    expect(handed.status).toBe(201);
    firstId = handed.body.items[0].id;

    const missing = await t
      .http()
      .post(`/api/v1/tasks/${firstId}/actions/return`)
      .set(street.auth)
      .send({ reasonCode: 'OTHER' });
    expect(missing.status).toBe(422); // OTHER needs a comment
    const bad = await t
      .http()
      .post(`/api/v1/tasks/${firstId}/actions/return`)
      .set(street.auth)
      .send({ reasonCode: 'TOO_BUSY' });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('PAYLOAD_INVALID');

    const ret = await t
      .http()
      .post(`/api/v1/tasks/${firstId}/actions/return`)
      .set(street.auth)
      .send({ reasonCode: 'INSUFFICIENT_FUNDS', comment: '拆除及垃圾清运需约八万元' });
    expect(ret.status).toBe(200);
    expect(ret.body).toEqual(
      expect.objectContaining({
        state: 'returned',
        escrowBalanceFen: 0,
        counters: expect.objectContaining({ returns: 1 }),
      }),
    );
    expect(ret.body.grants.map((g: { status: string }) => g.status)).toEqual(['revoked', 'revoked']);
    expect((await t.http().get(`/api/v1/tasks/${rootId}`).set(bureau.auth)).body.escrowBalanceFen).toBe(20 * WAN);
    // the returned task can no longer be acted on
    expect((await t.http().post(`/api/v1/tasks/${firstId}/actions/accept`).set(street.auth).send({})).status).toBe(409);
    const events = await t.http().get(`/api/v1/tasks/${firstId}/events`).set(bureau.auth);
    expect(events.body.items.at(-1)).toEqual(
      expect.objectContaining({
        action: 'return',
        fromState: 'pending_acceptance',
        toState: 'returned',
        payload: { reasonCode: 'INSUFFICIENT_FUNDS', comment: '拆除及垃圾清运需约八万元' },
      }),
    );
  });

  it('the bureau revises the funding and hands it off again; the street accepts', async () => {
    const again = await t
      .http()
      .post(`/api/v1/tasks/${rootId}/handoffs`)
      .set(bureau.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: await unitId(t, 'xh-jd2'),
            fundingFen: 8 * WAN,
            grants,
            terms: { note: '按街道测算追加经费' },
          },
        ],
      });
    expect(handedOk(again.status)).toBe(true);
    const id = again.body.items[0].id;
    const acc = await t.http().post(`/api/v1/tasks/${id}/actions/accept`).set(street.auth).send({});
    expect(acc.status).toBe(200);
    expect(acc.body).toEqual(expect.objectContaining({ state: 'in_progress', escrowBalanceFen: 8 * WAN }));
    expect((await t.http().get(`/api/v1/tasks/${rootId}`).set(bureau.auth)).body.escrowBalanceFen).toBe(12 * WAN);
    const issued = await t.http().get('/api/v1/tasks?view=issued&state=returned').set(bureau.auth);
    expect(issued.body.items.map((i: { id: string }) => i.id)).toContain(firstId);

    await expectLedgerInvariants(t);
    await expectChainsVerify(t, bureau, [rootId, firstId, id]);
  });
});

const handedOk = (status: number) => status === 201;

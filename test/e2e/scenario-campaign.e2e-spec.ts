import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { createTestApp, login, unitId, waitFor, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, expectLedgerInvariants } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const WAN = 1_000_000;

/**
 * A fire-hazard campaign: the emergency bureau hands it to a street; the street splits it among its three
 * communities (off the access list: consultation first), one declines and its money comes back; the two that agree
 * split it among their grids; the grids' progress rolls up the tree through the worker.
 */
describe('scenario: fire-hazard campaign down to the grids (e2e)', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let bureau: Session;
  let street: Session;
  const communities: Record<string, Session> = {};
  let totalBefore: string;
  let rootId: string;
  let streetTaskId: string;
  const communityTask: Record<string, string> = {};
  const gridTasks: string[] = [];
  const ids: string[] = [];

  const get = async (s: Session, id: string) => (await t.http().get(`/api/v1/tasks/${id}`).set(s.auth)).body;

  beforeAll(async () => {
    t = await createTestApp();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    await worker.init();
    [bureau, street] = await Promise.all([login(t, 'xh-ajj-leader'), login(t, 'xh-jd1-leader')]);
    for (const c of ['sq1', 'sq2', 'sq3']) communities[c] = await login(t, `xh-jd1-${c}-leader`);
    totalBefore = ((await t.ds.query('SELECT CAST(SUM(balance_fen) AS CHAR) AS s FROM accounts')) as { s: string }[])[0]
      .s;
  });
  afterAll(async () => {
    await worker.close();
    await t.close();
  });

  it('the bureau funds the campaign and hands it to the street with inspection and fund powers', async () => {
    const root = await t
      .http()
      .post('/api/v1/tasks')
      .set(bureau.auth)
      .send({
        title: '冬春火灾防控消防安全隐患排查整治',
        categoryCode: 'FIRE_HAZARD_CAMPAIGN',
        dueAt: inDays(40),
        fundingFen: 60 * WAN,
      });
    expect(root.status).toBe(201);
    rootId = root.body.id;
    const res = await t
      .http()
      .post(`/api/v1/tasks/${rootId}/handoffs`)
      .set(bureau.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: await unitId(t, 'xh-jd1'),
            fundingFen: 30 * WAN,
            dueAt: inDays(30),
            grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 30 * WAN }],
          },
        ],
      });
    expect(res.status).toBe(201);
    streetTaskId = res.body.items[0].id;
    expect((await t.http().post(`/api/v1/tasks/${streetTaskId}/actions/accept`).set(street.auth).send({})).status).toBe(
      200,
    );
    ids.push(rootId, streetTaskId);
  });

  it('a sub-grant above the street’s cap is refused', async () => {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${streetTaskId}/handoffs`)
      .set(street.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: await unitId(t, 'xh-jd1-sq1'),
            fundingFen: 8 * WAN,
            grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 31 * WAN }],
          },
        ],
      });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('GRANT_EXCEEDS_PARENT');
  });

  it('the street splits it among its three communities, which enter consultation', async () => {
    const handoffs = [];
    for (const c of ['sq1', 'sq2', 'sq3']) {
      handoffs.push({
        assigneeOrgUnitId: await unitId(t, `xh-jd1-${c}`),
        fundingFen: 8 * WAN,
        weight: 1,
        grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 8 * WAN }],
        terms: { assistanceMode: '街道安监中队业务指导', obligations: '每周五报送排查台账' },
      });
    }
    const res = await t.http().post(`/api/v1/tasks/${streetTaskId}/handoffs`).set(street.auth).send({ handoffs });
    expect(res.status).toBe(201);
    expect(res.body.items.map((i: { state: string }) => i.state)).toEqual([
      'in_consultation',
      'in_consultation',
      'in_consultation',
    ]);
    res.body.items.forEach((item: { id: string }, i: number) => (communityTask[['sq1', 'sq2', 'sq3'][i]] = item.id));
    ids.push(...Object.values(communityTask));
    expect((await get(street, streetTaskId)).escrowBalanceFen).toBe(6 * WAN);
    // the bureau cannot cancel the street's task while the street's own handoffs are open (money would strand)
    const cancel = await t
      .http()
      .post(`/api/v1/tasks/${streetTaskId}/actions/cancel`)
      .set(bureau.auth)
      .send({ reason: '调整部署' });
    expect(cancel.status).toBe(422);
    expect(cancel.body).toEqual(
      expect.objectContaining({ code: 'GUARD_FAILED', details: expect.objectContaining({ guard: 'childrenClosed' }) }),
    );
    // consultation must come first: accepting now is not offered
    const early = await t
      .http()
      .post(`/api/v1/tasks/${communityTask.sq1}/actions/accept`)
      .set(communities.sq1.auth)
      .send({});
    expect(early.status).toBe(409);
  });

  it('one community declines: its money returns to the street and its grants end', async () => {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${communityTask.sq3}/actions/decline`)
      .set(communities.sq3.auth)
      .send({ reason: '本社区人手不足，无法承担专项排查' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ state: 'returned', escrowBalanceFen: 0 }));
    expect(res.body.grants.every((g: { status: string }) => g.status === 'revoked')).toBe(true);
    expect((await get(street, streetTaskId)).escrowBalanceFen).toBe(14 * WAN);
  });

  it('the two that agree split their share among their grids', async () => {
    for (const c of ['sq1', 'sq2']) {
      const agreed = await t
        .http()
        .post(`/api/v1/tasks/${communityTask[c]}/actions/agree`)
        .set(communities[c].auth)
        .send({ terms: '需街道协调消防车通道' });
      expect(agreed.status).toBe(200);
      expect(agreed.body.state).toBe('in_progress');
      const handoffs = [];
      for (const g of ['wg1', 'wg2', 'wg3']) {
        handoffs.push({
          assigneeOrgUnitId: await unitId(t, `xh-jd1-${c}-${g}`),
          fundingFen: 2 * WAN,
          grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 2 * WAN }],
        });
      }
      const res = await t
        .http()
        .post(`/api/v1/tasks/${communityTask[c]}/handoffs`)
        .set(communities[c].auth)
        .send({ handoffs });
      expect(res.status).toBe(201);
      expect(res.body.items.map((i: { state: string }) => i.state)).toEqual([
        'pending_acceptance',
        'pending_acceptance',
        'pending_acceptance',
      ]);
      gridTasks.push(...res.body.items.map((i: { id: string }) => i.id));
      expect((await get(communities[c], communityTask[c])).escrowBalanceFen).toBe(2 * WAN);
    }
    ids.push(...gridTasks);
    // a grant derived twice stays inside the street's
    const g = (await t.http().get(`/api/v1/tasks/${gridTasks[0]}/grants`).set(street.auth)).body.items.find(
      (x: { powerCode: string }) => x.powerCode === 'HAZARD_FUND_USE',
    );
    expect(g).toEqual(
      expect.objectContaining({ capFen: 2 * WAN, parentGrantId: expect.any(String), status: 'active' }),
    );
  });

  it('grid workers accept, spend, report and finish; progress rolls up to the street', async () => {
    const codes = ['sq1-wg1', 'sq1-wg2', 'sq1-wg3', 'sq2-wg1', 'sq2-wg2', 'sq2-wg3'];
    for (const [i, id] of gridTasks.entries()) {
      const w = await login(t, `xh-jd1-${codes[i]}-worker`);
      expect((await t.http().post(`/api/v1/tasks/${id}/actions/accept`).set(w.auth).send({})).status).toBe(200);
      const pct = i < 3 ? 100 : 50;
      expect(
        (await t.http().post(`/api/v1/tasks/${id}/actions/report-progress`).set(w.auth).send({ percent: pct })).status,
      ).toBe(200);
    }
    // grid workers execute and report; recording expenses is for staff and leaders (DESIGN §2)
    const w1 = await login(t, 'xh-jd1-sq1-wg1-worker');
    const spend = await t
      .http()
      .post(`/api/v1/tasks/${gridTasks[0]}/expenses`)
      .set(w1.auth)
      .send({ amountFen: 5000, payee: '灭火器采购' });
    expect(spend.status).toBe(403);
    // the community spends on its own task under its capped grant
    const sq1Staff = await login(t, 'xh-jd1-sq1-staff');
    const bought = await t
      .http()
      .post(`/api/v1/tasks/${communityTask.sq1}/expenses`)
      .set(sq1Staff.auth)
      .send({ amountFen: 5000, payee: '灭火器采购', note: '网格宣传物料' });
    expect(bought.status).toBe(201);

    // the worker recomputes: sq1's grids are at 100, sq2's at 50; the street sees (100 + 50 + [sq3 returned]) / 2
    await waitFor(async () => (await get(communities.sq1, communityTask.sq1)).progress === 100, 20000);
    await waitFor(async () => (await get(communities.sq2, communityTask.sq2)).progress === 50, 20000);
    await waitFor(async () => {
      const s = await get(street, streetTaskId);
      return s.progress === 75 && s.children.total === 3 && s.children.returned === 1 && s.children.open === 2;
    }, 20000);
    const root = await waitFor(async () => {
      const r = await get(bureau, rootId);
      return r.progress === 75 ? r : null;
    }, 20000);
    expect(root.children).toEqual({ total: 1, open: 1, closed: 0, returned: 0, overdue: 0 });
  });

  it('the first community closes its grids and itself; money and chains hold', async () => {
    const codes = ['sq1-wg1', 'sq1-wg2', 'sq1-wg3'];
    for (const [i, id] of gridTasks.slice(0, 3).entries()) {
      const w = await login(t, `xh-jd1-${codes[i]}-worker`);
      expect(
        (
          await t
            .http()
            .post(`/api/v1/tasks/${id}/actions/submit`)
            .set(w.auth)
            .send({ summary: '排查完毕，隐患已整改' })
        ).status,
      ).toBe(200);
      expect(
        (await t.http().post(`/api/v1/tasks/${id}/actions/approve`).set(communities.sq1.auth).send({})).status,
      ).toBe(200);
    }
    // 2万 left after funding its grids, 5000 fen spent, the grids' 6万 back
    expect((await get(communities.sq1, communityTask.sq1)).escrowBalanceFen).toBe(2 * WAN + 6 * WAN - 5000);
    const submit = await t
      .http()
      .post(`/api/v1/tasks/${communityTask.sq1}/actions/submit`)
      .set(communities.sq1.auth)
      .send({ summary: '社区排查完成' });
    expect(submit.status).toBe(200);
    expect(
      (await t.http().post(`/api/v1/tasks/${communityTask.sq1}/actions/approve`).set(street.auth).send({})).status,
    ).toBe(200);
    expect((await get(street, streetTaskId)).escrowBalanceFen).toBe(14 * WAN + 8 * WAN - 5000);

    const [{ s }] = (await t.ds.query('SELECT CAST(SUM(balance_fen) AS CHAR) AS s FROM accounts')) as { s: string }[];
    expect(s).toBe(totalBefore);
    await expectLedgerInvariants(t);
    // the district auditor sees the whole tree; the bureau sees only what it owns or was assigned
    await expectChainsVerify(t, await login(t, 'xh-audit'), ids);
    expect((await t.http().get(`/api/v1/tasks/${communityTask.sq1}`).set(bureau.auth)).status).toBe(404);
  });
});

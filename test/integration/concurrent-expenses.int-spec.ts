import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, expectLedgerInvariants } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const N = 100;

interface Outcome {
  status: number;
  code?: string;
}

/**
 * Many expenses racing for one task's escrow through the HTTP API, on real MariaDB: the task row lock serialises
 * them, so exactly as many succeed as the escrow (or the grant's cap) allows, the rest are refused with their code,
 * nothing deadlocks or fails with a 500, and the books agree with the postings afterwards.
 */
describe('concurrent expenses against one escrow (integration)', () => {
  let t: TestApp;
  let office: Session; // 园林绿化管理所 leader: owns the root task
  let jd1: Session;
  let jd1Staff: Session;
  let jd2: Session;
  let jd2Staff: Session;
  let rootId: string;

  const escrowOf = async (id: string) =>
    Number(
      (
        (await t.ds.query('SELECT CAST(balance_fen AS CHAR) AS b FROM accounts WHERE id = ?', [`task-${id}`])) as {
          b: string;
        }[]
      )[0]?.b ?? 0,
    );

  /** A street task funded with `fundingFen`, carrying a PAYMENT_SETTLEMENT grant capped at `capFen`, accepted. */
  const streetTask = async (leader: Session, fundingFen: number, capFen: number): Promise<string> => {
    const res = await t
      .http()
      .post(`/api/v1/tasks/${rootId}/handoffs`)
      .set(office.auth)
      .send({
        handoffs: [
          {
            assigneeOrgUnitId: leader.user.orgUnitId,
            fundingFen,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen }],
          },
        ],
      });
    expect(res.status).toBe(201);
    const id = res.body.items[0].id as string;
    expect((await t.http().post(`/api/v1/tasks/${id}/actions/accept`).set(leader.auth).send({})).status).toBe(200);
    return id;
  };

  /** Fires `n` expenses of `amountFen` at once, alternating the leader's and the staff member's tokens. */
  const fire = (taskId: string, who: Session[], n: number, amountFen: number): Promise<Outcome>[] =>
    Array.from({ length: n }, (_, i) =>
      t
        .http()
        .post(`/api/v1/tasks/${taskId}/expenses`)
        .set(who[i % who.length].auth)
        .send({ amountFen, payee: `施工队${i}`, note: `第${i}笔` })
        .then((r) => ({ status: r.status, code: r.body.code as string | undefined })),
    );

  /** Outcomes counted by "status code", e.g. {'201': 33, '422 INSUFFICIENT_FUNDS': 67}. */
  const tally = (outcomes: Outcome[]) => {
    const out: Record<string, number> = {};
    for (const o of outcomes) {
      const key = o.code ? `${o.status} ${o.code}` : String(o.status);
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  };

  const expenseEntries = async (taskId: string) =>
    (await t.http().get(`/api/v1/tasks/${taskId}/ledger?limit=200`).set(office.auth)).body.items as {
      kind: string;
      amountFen: number;
      debitAccount: string;
      creditAccount: string;
    }[];

  const eventsOf = async (taskId: string) =>
    (await t.http().get(`/api/v1/tasks/${taskId}/events?limit=500`).set(office.auth)).body.items as {
      seq: number;
      action: string;
      payload: { amountFen?: number };
    }[];

  const moneyGrant = async (taskId: string) =>
    (
      (await t.http().get(`/api/v1/tasks/${taskId}/grants`).set(office.auth)).body.items as {
        powerCode: string;
        spentFen: number;
        capFen: number;
        status: string;
      }[]
    ).find((g) => g.powerCode === 'PAYMENT_SETTLEMENT')!;

  beforeAll(async () => {
    t = await createTestApp();
    [office, jd1, jd1Staff, jd2, jd2Staff] = await Promise.all([
      login(t, 'xh-ylj-leader'),
      login(t, 'xh-jd1-leader'),
      login(t, 'xh-jd1-staff'),
      login(t, 'xh-jd2-leader'),
      login(t, 'xh-jd2-staff'),
    ]);
    expect(jd1.user.orgUnitId).toBe(await unitId(t, 'xh-jd1'));
    const root = await t
      .http()
      .post('/api/v1/tasks')
      .set(office.auth)
      .send({
        title: '公园绿化带补植（并发支出）',
        categoryCode: 'LANDSCAPE_RECTIFICATION',
        dueAt: inDays(40),
        fundingFen: 100_000,
      });
    expect(root.status).toBe(201);
    rootId = root.body.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`${N} concurrent expenses bounded by the escrow: floor(E / a) succeed, the rest are INSUFFICIENT_FUNDS`, async () => {
    const E = 10_000;
    const a = 300;
    const id = await streetTask(jd1, E, 2 * E); // the cap is no constraint here
    const outcomes = await Promise.all(fire(id, [jd1, jd1Staff], N, a));

    const ok = outcomes.filter((o) => o.status === 201).length;
    expect(ok).toBe(Math.floor(E / a));
    expect(tally(outcomes)).toEqual({ '201': ok, '422 INSUFFICIENT_FUNDS': N - ok });

    expect(await escrowOf(id)).toBe(E - ok * a);
    const entries = await expenseEntries(id);
    const funding = entries.filter((e) => e.kind === 'funding').reduce((s, e) => s + e.amountFen, 0);
    const spent = entries.filter((e) => e.kind === 'expense').reduce((s, e) => s + e.amountFen, 0);
    expect(funding).toBe(E);
    expect(entries.filter((e) => e.kind === 'expense')).toHaveLength(ok);
    expect(
      entries
        .filter((e) => e.kind === 'expense')
        .every((e) => e.creditAccount === `task-${id}` && e.debitAccount === 'external-expense'),
    ).toBe(true);
    expect(funding - spent).toBe(await escrowOf(id));
    expect((await t.http().get(`/api/v1/tasks/${id}`).set(jd1.auth)).body.escrowBalanceFen).toBe(E - ok * a);

    expect(await moneyGrant(id)).toEqual(
      expect.objectContaining({ spentFen: ok * a, capFen: 2 * E, status: 'active' }),
    );
    const events = await eventsOf(id);
    expect(events.filter((e) => e.action === 'expense')).toHaveLength(ok);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    await expectChainsVerify(t, jd1, [id]);
    await expectLedgerInvariants(t);
  });

  it(`${N} concurrent expenses bounded by the grant's cap: floor(C / a) succeed, the rest are GRANT_CAP_EXCEEDED`, async () => {
    const E = 10_000;
    const C = 6_000;
    const a = 250;
    const id = await streetTask(jd2, E, C);
    const outcomes = await Promise.all(fire(id, [jd2, jd2Staff], N, a));

    const ok = outcomes.filter((o) => o.status === 201).length;
    expect(ok).toBe(Math.floor(C / a));
    expect(tally(outcomes)).toEqual({ '201': ok, '422 GRANT_CAP_EXCEEDED': N - ok });
    expect(await escrowOf(id)).toBe(E - ok * a);
    expect(await moneyGrant(id)).toEqual(expect.objectContaining({ spentFen: C, capFen: C }));
    const entries = await expenseEntries(id);
    expect(entries.filter((e) => e.kind === 'expense').reduce((s, e) => s + e.amountFen, 0)).toBe(ok * a);
    expect((await eventsOf(id)).filter((e) => e.action === 'expense')).toHaveLength(ok);
    await expectChainsVerify(t, jd2, [id]);
    await expectLedgerInvariants(t);
  });

  it('two streets spending at once on sibling tasks do not deadlock on the shared expense account', async () => {
    const [a1, a2] = [await streetTask(jd1, 3_000, 3_000), await streetTask(jd2, 3_000, 3_000)];
    const outcomes = await Promise.all([...fire(a1, [jd1, jd1Staff], 50, 100), ...fire(a2, [jd2, jd2Staff], 50, 100)]);
    expect(tally(outcomes)).toEqual({ '201': 60, '422 GRANT_CAP_EXCEEDED': 40 });
    expect([await escrowOf(a1), await escrowOf(a2)]).toEqual([0, 0]);
    await expectLedgerInvariants(t);
  });

  it('expenses racing the owner’s cancel: each lands before it or is refused, and the settlement returns exactly the rest', async () => {
    const E = 5_000;
    const a = 100;
    const id = await streetTask(jd1, E, E);
    const rootBefore = await escrowOf(rootId);
    const first = fire(id, [jd1, jd1Staff], 20, a);
    const cancel = t
      .http()
      .post(`/api/v1/tasks/${id}/actions/cancel`)
      .set(office.auth)
      .send({ reason: '方案调整' })
      .then((r) => ({ status: r.status, code: r.body.code as string | undefined }));
    const rest = fire(id, [jd1, jd1Staff], 20, a);
    const [cancelled, outcomes] = await Promise.all([cancel, Promise.all([...first, ...rest])]);

    expect(cancelled).toEqual({ status: 200, code: undefined });
    const ok = outcomes.filter((o) => o.status === 201).length;
    const refused = outcomes.filter((o) => o.status !== 201);
    expect(refused).toEqual(refused.map(() => ({ status: 409, code: 'TASK_NOT_IN_PROGRESS' })));

    expect(await escrowOf(id)).toBe(0);
    const entries = await expenseEntries(id);
    expect(entries.filter((e) => e.kind === 'expense').reduce((s, e) => s + e.amountFen, 0)).toBe(ok * a);
    expect(entries.filter((e) => e.kind === 'settlement').map((e) => e.amountFen)).toEqual([E - ok * a]);
    expect(await escrowOf(rootId)).toBe(rootBefore + E - ok * a);

    // in the history every expense comes before the cancel, and the grants are gone
    const events = await eventsOf(id);
    const cancelSeq = events.find((e) => e.action === 'cancel')!.seq;
    expect(events.filter((e) => e.action === 'expense').every((e) => e.seq < cancelSeq)).toBe(true);
    expect(events.filter((e) => e.action === 'expense')).toHaveLength(ok);
    expect(await moneyGrant(id)).toEqual(expect.objectContaining({ spentFen: ok * a, status: 'revoked' }));
    await expectChainsVerify(t, office, [id, rootId]);
    await expectLedgerInvariants(t);
  });
});

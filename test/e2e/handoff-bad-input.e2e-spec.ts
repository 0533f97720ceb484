import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, expectLedgerInvariants } from '../helpers/invariants.js';

const DAY = 86400_000;
const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();

/** What a refused request must leave untouched: row counts and every account balance. */
interface Snapshot {
  tasks: number;
  grants: number;
  ledgerEntries: number;
  taskEvents: number;
  accounts: string;
}

/**
 * Bad handoffs and expenses through the HTTP API: each is refused with its stable code (and the details a client
 * needs to show the user), and nothing at all is written — no task, grant, posting or event, no balance moved.
 */
describe('handoff and expense bad input (e2e)', () => {
  let t: TestApp;
  let office: Session; // 园林绿化管理所 leader (department)
  let safety: Session; // 应急管理局 leader (another department)
  let urban: Session; // 城市管理局 leader (department)
  let street: Session; // 新华街道 leader
  let streetStaff: Session;
  let otherStreet: Session; // 东风街道 leader
  let u: Record<'jd1' | 'jd2' | 'jd1sq1' | 'jd1sq2' | 'jd1sq3' | 'jd2sq1' | 'jd1ks1', string>;
  let rootId: string; // the office's task (top level)
  let rootDueAt: string;
  let streetTaskId: string; // the street's child task, accepted, escrow 50 000 fen, PAYMENT_SETTLEMENT cap 30 000
  let streetDueAt: string;

  const count = async (table: string) =>
    Number(((await t.ds.query(`SELECT COUNT(*) AS n FROM ${table}`)) as { n: string }[])[0].n);
  const snapshot = async (): Promise<Snapshot> => ({
    tasks: await count('tasks'),
    grants: await count('grants'),
    ledgerEntries: await count('ledger_entries'),
    taskEvents: await count('task_events'),
    accounts: (
      (await t.ds.query('SELECT id, CAST(balance_fen AS CHAR) AS b FROM accounts ORDER BY id')) as {
        id: string;
        b: string;
      }[]
    )
      .map((r) => `${r.id}=${r.b}`)
      .join(' '),
  });
  const handoff = (s: Session, taskId: string, body: unknown) =>
    t
      .http()
      .post(`/api/v1/tasks/${taskId}/handoffs`)
      .set(s.auth)
      .send(body as object);
  const escrow = async (id: string, s: Session = office) =>
    (await t.http().get(`/api/v1/tasks/${id}`).set(s.auth)).body.escrowBalanceFen as number;
  /** A correct street → community item: both powers, the crew command unlimited and payment capped below the street's. */
  const goodCommunityItem = (assigneeOrgUnitId: string, fundingFen = 1_000) => ({
    assigneeOrgUnitId,
    fundingFen,
    grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 5_000 }],
  });

  /** Runs the request, asserts status and code, and that nothing was written; returns the body. */
  const refused = async (
    req: () => PromiseLike<{ status: number; body: Record<string, unknown> }>,
    status: number,
    code: string,
  ) => {
    const before = await snapshot();
    const res = await req();
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(typeof res.body.message).toBe('string');
    expect(await snapshot()).toEqual(before);
    return res.body;
  };

  beforeAll(async () => {
    t = await createTestApp();
    [office, safety, urban, street, streetStaff, otherStreet] = await Promise.all([
      login(t, 'xh-ylj-leader'),
      login(t, 'xh-ajj-leader'),
      login(t, 'xh-cgj-leader'),
      login(t, 'xh-jd1-leader'),
      login(t, 'xh-jd1-staff'),
      login(t, 'xh-jd2-leader'),
    ]);
    const codes = {
      jd1: 'xh-jd1',
      jd2: 'xh-jd2',
      jd1sq1: 'xh-jd1-sq1',
      jd1sq2: 'xh-jd1-sq2',
      jd1sq3: 'xh-jd1-sq3',
      jd2sq1: 'xh-jd2-sq1',
      jd1ks1: 'xh-jd1-ks1',
    };
    u = Object.fromEntries(
      await Promise.all(Object.entries(codes).map(async ([k, c]) => [k, await unitId(t, c)] as const)),
    ) as typeof u;

    rootDueAt = inDays(60);
    const root = await t.http().post('/api/v1/tasks').set(office.auth).send({
      title: '公园绿地提升（输入校验）',
      categoryCode: 'LANDSCAPE_RECTIFICATION',
      dueAt: rootDueAt,
      fundingFen: 100_000,
    });
    expect(root.status).toBe(201);
    rootId = root.body.id;
    streetDueAt = inDays(30);
    const child = await handoff(office, rootId, {
      handoffs: [
        {
          assigneeOrgUnitId: u.jd1,
          dueAt: streetDueAt,
          fundingFen: 50_000,
          grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 30_000 }],
        },
      ],
    });
    expect(child.status).toBe(201);
    streetTaskId = child.body.items[0].id;
    expect((await t.http().post(`/api/v1/tasks/${streetTaskId}/actions/accept`).set(street.auth).send({})).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('receivers and channels', () => {
    it('an unknown receiving unit is 422 UNKNOWN_ORG_UNIT naming it', async () => {
      const ghost = randomUUID();
      const body = await refused(
        () =>
          handoff(office, rootId, {
            handoffs: [
              {
                assigneeOrgUnitId: ghost,
                fundingFen: 1_000,
                grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 }],
              },
            ],
          }),
        422,
        'UNKNOWN_ORG_UNIT',
      );
      expect(body.details).toEqual({ orgUnitIds: [ghost] });
    });

    it('a receiving unit id that is not a UUID is 400 naming the field', async () => {
      const body = await refused(
        () => handoff(office, rootId, { handoffs: [{ assigneeOrgUnitId: 'xh-jd1', fundingFen: 1_000, grants: [] }] }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details).toEqual([expect.objectContaining({ field: 'handoffs.0.assigneeOrgUnitId' })]);
    });

    it('a department handing straight to a community (skipping the street) is 422 HANDOFF_CHANNEL_NOT_ALLOWED', async () => {
      const body = await refused(
        () =>
          handoff(office, rootId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1sq1,
                fundingFen: 1_000,
                grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 }],
              },
            ],
          }),
        422,
        'HANDOFF_CHANNEL_NOT_ALLOWED',
      );
      expect(body.details).toEqual(
        expect.objectContaining({
          index: 0,
          assigneeOrgUnitId: u.jd1sq1,
          senderKind: 'department',
          receiverKind: 'community',
        }),
      );
    });

    it('a street handing sideways to another street’s community is 422 HANDOFF_CHANNEL_NOT_ALLOWED', async () => {
      const body = await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd2sq1)] }),
        422,
        'HANDOFF_CHANNEL_NOT_ALLOWED',
      );
      expect(body.details).toEqual(
        expect.objectContaining({
          index: 0,
          assigneeOrgUnitId: u.jd2sq1,
          senderKind: 'street',
          receiverKind: 'community',
        }),
      );
    });

    it('a street handing sideways to another street, or up to a department, is 422 HANDOFF_CHANNEL_NOT_ALLOWED', async () => {
      const sideways = await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd2)] }),
        422,
        'HANDOFF_CHANNEL_NOT_ALLOWED',
      );
      expect(sideways.details).toEqual(expect.objectContaining({ senderKind: 'street', receiverKind: 'street' }));
      const upwards = await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(safety.user.orgUnitId)] }),
        422,
        'HANDOFF_CHANNEL_NOT_ALLOWED',
      );
      expect(upwards.details).toEqual(expect.objectContaining({ senderKind: 'street', receiverKind: 'department' }));
    });

    it('the same receiver twice in one handoff is refused', async () => {
      await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1), goodCommunityItem(u.jd1sq1)] }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('amounts and due times', () => {
    it.each([
      ['a negative', -100, 'fundingFen must not be less than 0'],
      ['a fractional', 12.5, 'fundingFen must be an integer number'],
      ['a string', '1000', 'fundingFen must be an integer number'],
    ])('%s fundingFen is 400 VALIDATION_FAILED naming handoffs.0.fundingFen', async (_what, fundingFen, message) => {
      const body = await refused(
        () =>
          handoff(office, rootId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1,
                fundingFen,
                grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 }],
              },
            ],
          }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details).toEqual([{ field: 'handoffs.0.fundingFen', errors: expect.arrayContaining([message]) }]);
    });

    it('zero funding is 422 FUNDS_MUST_FOLLOW_TASK', async () => {
      const body = await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1, 0)] }),
        422,
        'FUNDS_MUST_FOLLOW_TASK',
      );
      expect(body.details).toEqual(expect.objectContaining({ index: 0, assigneeOrgUnitId: u.jd1sq1 }));
    });

    it('a negative or fractional expense is 400 naming amountFen', async () => {
      for (const amountFen of [-5, 0.5, 0]) {
        const body = await refused(
          () =>
            t
              .http()
              .post(`/api/v1/tasks/${streetTaskId}/expenses`)
              .set(street.auth)
              .send({ amountFen, payee: '某公司' }),
          400,
          'VALIDATION_FAILED',
        );
        expect(body.details).toEqual([expect.objectContaining({ field: 'amountFen' })]);
      }
    });

    it('a due time after the parent’s is 422 DUE_TIME_AFTER_PARENT', async () => {
      const late = new Date(new Date(streetDueAt).getTime() + 1000).toISOString();
      const body = await refused(
        () => handoff(street, streetTaskId, { handoffs: [{ ...goodCommunityItem(u.jd1sq1), dueAt: late }] }),
        422,
        'DUE_TIME_AFTER_PARENT',
      );
      expect(body.details).toEqual(expect.objectContaining({ index: 0, parentDueAt: streetDueAt }));
    });

    it('a due time in the past is 422 DUE_TIME_INVALID', async () => {
      await refused(
        () => handoff(street, streetTaskId, { handoffs: [{ ...goodCommunityItem(u.jd1sq1), dueAt: inDays(-1) }] }),
        422,
        'DUE_TIME_INVALID',
      );
    });

    it('funding above the parent’s escrow is 422 INSUFFICIENT_FUNDS with the balance', async () => {
      const body = await refused(
        () => handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1, 50_001)] }),
        422,
        'INSUFFICIENT_FUNDS',
      );
      expect(body.details).toEqual({ accountId: `task-${streetTaskId}`, balanceFen: 50_000, requiredFen: 50_001 });
      expect(await escrow(streetTaskId)).toBe(50_000);
    });
  });

  describe('foreign tasks and who may hand off', () => {
    it('another department’s task is 404, for handoffs, expenses, actions and reads', async () => {
      const item = { assigneeOrgUnitId: u.jd1, fundingFen: 1_000, grants: [{ powerCode: 'SAFETY_INSPECTION' }] };
      const body = await refused(() => handoff(safety, rootId, { handoffs: [item] }), 404, 'NOT_FOUND');
      expect(body.details).toBeUndefined();
      await refused(
        () => t.http().post(`/api/v1/tasks/${rootId}/expenses`).set(safety.auth).send({ amountFen: 100, payee: 'x' }),
        404,
        'NOT_FOUND',
      );
      await refused(
        () => t.http().post(`/api/v1/tasks/${rootId}/actions/cancel`).set(safety.auth).send({}),
        404,
        'NOT_FOUND',
      );
      expect((await t.http().get(`/api/v1/tasks/${rootId}`).set(safety.auth)).status).toBe(404);
    });

    it('another street’s task is 404', async () => {
      await refused(
        () => handoff(otherStreet, streetTaskId, { handoffs: [goodCommunityItem(u.jd2sq1)] }),
        404,
        'NOT_FOUND',
      );
      await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${streetTaskId}/expenses`)
            .set(otherStreet.auth)
            .send({ amountFen: 100, payee: 'x' }),
        404,
        'NOT_FOUND',
      );
    });

    it('a task id that does not exist is 404; one that is not a UUID is 400', async () => {
      await refused(() => handoff(street, randomUUID(), { handoffs: [goodCommunityItem(u.jd1sq1)] }), 404, 'NOT_FOUND');
      await refused(
        () => handoff(street, 'not-a-uuid', { handoffs: [goodCommunityItem(u.jd1sq1)] }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('a non-leader of the holding unit cannot hand off (403)', async () => {
      await refused(
        () => handoff(streetStaff, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1)] }),
        403,
        'FORBIDDEN',
      );
    });

    it('the owner cannot hand off a task it gave away (403): only the holder can', async () => {
      await refused(() => handoff(office, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1)] }), 403, 'FORBIDDEN');
    });

    it('a task not yet accepted cannot be handed further (409 TASK_NOT_IN_PROGRESS)', async () => {
      const pending = await handoff(office, rootId, {
        handoffs: [
          {
            assigneeOrgUnitId: u.jd2,
            fundingFen: 2_000,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 2_000 }],
          },
        ],
      });
      expect(pending.status).toBe(201);
      await refused(
        () => handoff(otherStreet, pending.body.items[0].id, { handoffs: [goodCommunityItem(u.jd2sq1)] }),
        409,
        'TASK_NOT_IN_PROGRESS',
      );
    });
  });

  describe('powers and grants', () => {
    it('a grant above the parent grant’s cap is 422 GRANT_EXCEEDS_PARENT', async () => {
      const body = await refused(
        () =>
          handoff(street, streetTaskId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1sq1,
                fundingFen: 1_000,
                grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 30_001 }],
              },
            ],
          }),
        422,
        'GRANT_EXCEEDS_PARENT',
      );
      const details = body.details as { index: number; powerCode: string; parentGrantId: string; violations: string[] };
      expect(details).toEqual(expect.objectContaining({ index: 0, powerCode: 'PAYMENT_SETTLEMENT' }));
      const streetGrants = (await t.http().get(`/api/v1/tasks/${streetTaskId}/grants`).set(street.auth)).body.items as {
        id: string;
        powerCode: string;
      }[];
      expect(details.parentGrantId).toBe(streetGrants.find((g) => g.powerCode === 'PAYMENT_SETTLEMENT')?.id);
      expect(details.violations).toEqual([expect.stringContaining('cap')]);
    });

    it('an uncapped money grant under a capped parent grant is refused', async () => {
      await refused(
        () =>
          handoff(street, streetTaskId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1sq1,
                fundingFen: 1_000,
                grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT' }],
              },
            ],
          }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('a grant valid after the parent grant is 422 GRANT_EXCEEDS_PARENT', async () => {
      const item = {
        assigneeOrgUnitId: u.jd1sq1,
        dueAt: inDays(10),
        fundingFen: 1_000,
        grants: [
          { powerCode: 'CREW_COMMAND', validUntil: inDays(31) },
          { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 },
        ],
      };
      const body = await refused(
        () => handoff(street, streetTaskId, { handoffs: [item] }),
        422,
        'GRANT_EXCEEDS_PARENT',
      );
      expect(body.details).toEqual(
        expect.objectContaining({ powerCode: 'CREW_COMMAND', violations: [expect.stringContaining('validity')] }),
      );
    });

    it('a grant scoped outside the receiver is 422 GRANT_SCOPE_INVALID', async () => {
      const item = {
        assigneeOrgUnitId: u.jd1sq1,
        fundingFen: 1_000,
        grants: [
          { powerCode: 'CREW_COMMAND', scopeOrgUnitId: u.jd1sq2 },
          { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 },
        ],
      };
      await refused(() => handoff(street, streetTaskId, { handoffs: [item] }), 422, 'GRANT_SCOPE_INVALID');
    });

    it('a power the sender does not hold is 422 POWER_NOT_HELD', async () => {
      const item = {
        ...goodCommunityItem(u.jd1sq1),
        grants: [...goodCommunityItem(u.jd1sq1).grants, { powerCode: 'HAZARD_FUND_USE', capFen: 1_000 }],
      };
      const body = await refused(() => handoff(street, streetTaskId, { handoffs: [item] }), 422, 'POWER_NOT_HELD');
      expect(body.details).toEqual(expect.objectContaining({ index: 0, powerCode: 'HAZARD_FUND_USE' }));
      // a department cannot delegate another department's power either
      const dept = await refused(
        () =>
          handoff(office, rootId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1,
                fundingFen: 1_000,
                grants: [
                  { powerCode: 'CREW_COMMAND' },
                  { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 },
                  { powerCode: 'SAFETY_INSPECTION' },
                ],
              },
            ],
          }),
        422,
        'POWER_NOT_HELD',
      );
      expect(dept.details).toEqual(expect.objectContaining({ powerCode: 'SAFETY_INSPECTION' }));
    });

    it('a power missing from the handoff is 422 POWER_MUST_FOLLOW_RESPONSIBILITY naming it', async () => {
      const body = await refused(
        () =>
          handoff(street, streetTaskId, {
            handoffs: [{ assigneeOrgUnitId: u.jd1sq1, fundingFen: 1_000, grants: [{ powerCode: 'CREW_COMMAND' }] }],
          }),
        422,
        'POWER_MUST_FOLLOW_RESPONSIBILITY',
      );
      expect(body.details).toEqual(expect.objectContaining({ index: 0, missingPowers: ['PAYMENT_SETTLEMENT'] }));
    });

    it('a power code not in the catalog is 422 UNKNOWN_POWER_CODES', async () => {
      const item = {
        ...goodCommunityItem(u.jd1sq1),
        grants: [...goodCommunityItem(u.jd1sq1).grants, { powerCode: 'NO_SUCH_POWER' }],
      };
      const body = await refused(() => handoff(street, streetTaskId, { handoffs: [item] }), 422, 'UNKNOWN_POWER_CODES');
      expect(body.details).toEqual({ codes: ['NO_SUCH_POWER'] });
    });
  });

  describe('all or nothing', () => {
    it('when only the last of several items breaks a grant rule, none of the good items is written', async () => {
      const bad = {
        assigneeOrgUnitId: u.jd1sq3,
        fundingFen: 1_000,
        grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 99_999 }],
      };
      const body = await refused(
        () =>
          handoff(street, streetTaskId, { handoffs: [goodCommunityItem(u.jd1sq1), goodCommunityItem(u.jd1sq2), bad] }),
        422,
        'GRANT_EXCEEDS_PARENT',
      );
      expect(body.details).toEqual(expect.objectContaining({ index: 2 }));
      expect(await escrow(streetTaskId)).toBe(50_000);
    });

    it('when the items together need more than the escrow, none of them is written', async () => {
      // each item alone fits (20 000 ≤ 50 000), all three do not: the refusal comes from the ledger, after the rows were inserted
      const items = [u.jd1sq1, u.jd1sq2, u.jd1sq3].map((id) => goodCommunityItem(id, 20_000));
      const body = await refused(() => handoff(street, streetTaskId, { handoffs: items }), 422, 'INSUFFICIENT_FUNDS');
      expect(body.details).toEqual({ accountId: `task-${streetTaskId}`, balanceFen: 50_000, requiredFen: 60_000 });
      const children = await t.http().get(`/api/v1/tasks/${streetTaskId}`).set(street.auth);
      expect(children.body.children.total).toBe(0);
    });

    it('a bad last item in a department’s multi-street handoff writes nothing either, and leaves the budget alone', async () => {
      const budgetBefore = (await t.http().get(`/api/v1/org-units/${office.user.orgUnitId}/budget`).set(office.auth))
        .body.balanceFen as number;
      const good = {
        assigneeOrgUnitId: u.jd2,
        fundingFen: 200_000,
        grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 }],
      };
      const bad = {
        assigneeOrgUnitId: u.jd1ks1,
        fundingFen: 1_000,
        grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1_000 }],
      };
      await refused(() => handoff(office, rootId, { handoffs: [good, bad] }), 422, 'HANDOFF_CHANNEL_NOT_ALLOWED');
      expect(
        (await t.http().get(`/api/v1/org-units/${office.user.orgUnitId}/budget`).set(office.auth)).body.balanceFen,
      ).toBe(budgetBefore);
    });
  });

  describe('expenses without authority', () => {
    it('a task whose category bears no money-bearing power: a handed-off street task is 422 AUTHORITY_REQUIRED', async () => {
      const own = await t
        .http()
        .post('/api/v1/tasks')
        .set(urban.auth)
        .send({
          title: '占道经营整治',
          categoryCode: 'STREET_VENDOR_RECTIFICATION',
          dueAt: inDays(20),
          fundingFen: 10_000,
        });
      expect(own.status).toBe(201);
      const child = await handoff(urban, own.body.id, {
        handoffs: [{ assigneeOrgUnitId: u.jd1, fundingFen: 5_000, grants: [{ powerCode: 'ORDER_RECTIFICATION' }] }],
      });
      expect(child.status).toBe(201);
      const childId = child.body.items[0].id as string;
      expect((await t.http().post(`/api/v1/tasks/${childId}/actions/accept`).set(street.auth).send({})).status).toBe(
        200,
      );

      await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${childId}/expenses`)
            .set(streetStaff.auth)
            .send({ amountFen: 100, payee: '某保洁公司' }),
        422,
        'AUTHORITY_REQUIRED',
      );
      // nor can the department spend on its own task: it holds a money power, but not one this category needs
      await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${own.body.id}/expenses`)
            .set(urban.auth)
            .send({ amountFen: 100, payee: '某保洁公司' }),
        422,
        'AUTHORITY_REQUIRED',
      );
      expect(await escrow(childId, urban)).toBe(5_000);
    });

    it('a task that is not in progress takes no expenses (409), and one above the grant cap is 422 GRANT_CAP_EXCEEDED', async () => {
      const pending = await handoff(office, rootId, {
        handoffs: [
          {
            assigneeOrgUnitId: u.jd1,
            fundingFen: 2_000,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 2_000 }],
          },
        ],
      });
      expect(pending.status).toBe(201);
      await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${pending.body.items[0].id}/expenses`)
            .set(street.auth)
            .send({ amountFen: 100, payee: 'x' }),
        409,
        'TASK_NOT_IN_PROGRESS',
      );
      const body = await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${streetTaskId}/expenses`)
            .set(street.auth)
            .send({ amountFen: 30_001, payee: 'x' }),
        422,
        'GRANT_CAP_EXCEEDED',
      );
      expect(body.details).toEqual(expect.objectContaining({ capFen: 30_000, spentFen: 0, amountFen: 30_001 }));
    });

    it('an expense above the escrow (within the cap) is 422 INSUFFICIENT_FUNDS', async () => {
      const small = await handoff(office, rootId, {
        handoffs: [
          {
            assigneeOrgUnitId: u.jd2,
            fundingFen: 500,
            grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 10_000 }],
          },
        ],
      });
      expect(small.status).toBe(201);
      const id = small.body.items[0].id as string;
      expect((await t.http().post(`/api/v1/tasks/${id}/actions/accept`).set(otherStreet.auth).send({})).status).toBe(
        200,
      );
      const body = await refused(
        () => t.http().post(`/api/v1/tasks/${id}/expenses`).set(otherStreet.auth).send({ amountFen: 501, payee: 'x' }),
        422,
        'INSUFFICIENT_FUNDS',
      );
      expect(body.details).toEqual({ accountId: `task-${id}`, balanceFen: 500, requiredFen: 501 });
    });
  });

  describe('malformed bodies', () => {
    it('wrong JSON types in nested grants are 400 listing every bad field by its path', async () => {
      const body = await refused(
        () =>
          handoff(street, streetTaskId, {
            handoffs: [
              {
                assigneeOrgUnitId: u.jd1sq1,
                fundingFen: 1_000,
                grants: [
                  { powerCode: 'CREW_COMMAND', capFen: 'lots' },
                  { powerCode: 42, validUntil: 'tomorrow' },
                  { powerCode: 'PAYMENT_SETTLEMENT', capFen: 1.5, scope: 'everywhere' },
                ],
              },
            ],
          }),
        400,
        'VALIDATION_FAILED',
      );
      const details = body.details as { field: string; errors: string[] }[];
      expect(details.map((d) => d.field).sort()).toEqual(
        [
          'handoffs.0.grants.0.capFen',
          'handoffs.0.grants.1.powerCode',
          'handoffs.0.grants.1.validUntil',
          'handoffs.0.grants.2.capFen',
          'handoffs.0.grants.2.scope',
        ].sort(),
      );
      expect(details.find((d) => d.field === 'handoffs.0.grants.2.scope')?.errors).toEqual([
        'property scope should not exist',
      ]);
      for (const d of details) expect(d.errors.length).toBeGreaterThan(0);
      expect(details.find((d) => d.field === 'handoffs.0.grants.2.capFen')?.errors).toEqual(
        expect.arrayContaining(['capFen must be an integer number']),
      );
    });

    it('grants that are not an array, a missing handoffs list and an empty one are 400', async () => {
      const notArray = await refused(
        () =>
          handoff(street, streetTaskId, {
            handoffs: [{ assigneeOrgUnitId: u.jd1sq1, fundingFen: 1_000, grants: 'CREW_COMMAND' }],
          }),
        400,
        'VALIDATION_FAILED',
      );
      expect((notArray.details as { field: string }[]).map((d) => d.field)).toContain('handoffs.0.grants');
      const missing = await refused(() => handoff(street, streetTaskId, {}), 400, 'VALIDATION_FAILED');
      expect((missing.details as { field: string }[]).map((d) => d.field)).toContain('handoffs');
      const empty = await refused(() => handoff(street, streetTaskId, { handoffs: [] }), 400, 'VALIDATION_FAILED');
      expect((empty.details as { field: string }[]).map((d) => d.field)).toEqual(['handoffs']);
    });

    it('malformed JSON is 400 MALFORMED_JSON', async () => {
      await refused(
        () =>
          t
            .http()
            .post(`/api/v1/tasks/${streetTaskId}/handoffs`)
            .set(street.auth)
            .set('Content-Type', 'application/json')
            .send('{"handoffs": [}'),
        400,
        'MALFORMED_JSON',
      );
    });
  });

  it('after all the refusals the books balance and the histories verify', async () => {
    expect(await escrow(streetTaskId)).toBe(50_000);
    await expectLedgerInvariants(t);
    await expectChainsVerify(t, office, [rootId, streetTaskId]);
  });
});

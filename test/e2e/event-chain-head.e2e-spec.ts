import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendEvent } from '@gridflow/domain';
import { createTestApp, login, unitId, type Session, type TestApp } from '../helpers/app.js';
import { expectChainsVerify, headsOffTheTail } from '../helpers/invariants.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();

/**
 * Each task row keeps the head of its event chain (last_event_seq, last_event_hash), so an action chains its event
 * without reading task_events. A task without a head (its events predate the columns) and a head left behind by a
 * writer that does not move it (an earlier release, during a rolling upgrade) must still give an unbroken chain.
 */
describe('event chain head on the task row (e2e)', () => {
  let t: TestApp;
  let street: Session; // 街道 leader: issues and hands off
  let community: Session; // 社区 leader: receives
  let childId: string;

  const events = async (id: string) =>
    (await t.http().get(`/api/v1/tasks/${id}/events`).set(community.auth)).body.items as { seq: number; action: string }[];
  const head = async (id: string) =>
    ((await t.ds.query('SELECT last_event_seq AS seq, last_event_hash AS hash FROM tasks WHERE id = ?', [id])) as {
      seq: number | null;
      hash: string | null;
    }[])[0];
  const progress = (percent: number) =>
    t.http().post(`/api/v1/tasks/${childId}/actions/report-progress`).set(community.auth).send({ percent });

  beforeAll(async () => {
    t = await createTestApp();
    [street, community] = await Promise.all([login(t, 'xh-jd1-leader'), login(t, 'xh-jd1-sq1-leader')]);
    const root = await t
      .http()
      .post('/api/v1/tasks')
      .set(street.auth)
      .send({ title: '背街小巷环境整治', categoryCode: 'SANITATION_GRID_CLEANING', dueAt: inDays(30), fundingFen: 3000 });
    expect(root.status).toBe(201);
    const handed = await t
      .http()
      .post(`/api/v1/tasks/${root.body.id}/handoffs`)
      .set(street.auth)
      .send({ handoffs: [{ assigneeOrgUnitId: await unitId(t, 'xh-jd1-sq1'), fundingFen: 1000, grants: [] }] });
    expect(handed.status).toBe(201);
    childId = handed.body.items[0].id;
    expect((await t.http().post(`/api/v1/tasks/${childId}/actions/accept`).set(community.auth).send({})).status).toBe(200);
    // the parent got its handoff event, the child its create and accept events: each row's head is its last event
    await expectChainsVerify(t, street, [root.body.id, childId]);
    expect((await events(childId)).map((e) => e.action)).toEqual(['create', 'accept']);
    expect(await head(childId)).toEqual({ seq: 2, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
  afterAll(async () => {
    await t.close();
  });

  it('a task without a head (events from before the columns) chains its next event to the last one and gets its head', async () => {
    await t.ds.query('UPDATE tasks SET last_event_seq = NULL, last_event_hash = NULL WHERE id = ?', [childId]);
    const res = await progress(30);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ progress: 30 }));
    expect((await events(childId)).map((e) => [e.seq, e.action])).toEqual([
      [1, 'create'],
      [2, 'accept'],
      [3, 'report-progress'],
    ]);
    expect((await head(childId)).seq).toBe(3);
    await expectChainsVerify(t, community, [childId]);
  });

  it('a head left behind by a writer that does not move it is caught: the event follows the real last one', async () => {
    // an earlier release appends under the task lock and leaves the head at seq 3
    const runner = t.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query('SELECT id FROM tasks WHERE id = ? FOR UPDATE', [childId]);
      await appendEvent(
        runner.manager,
        {
          taskId: childId,
          action: 'report-progress',
          fromState: 'in_progress',
          toState: 'in_progress',
          actorUserId: community.user.id,
          actorOrgUnitId: community.user.orgUnitId,
          payload: { percent: 40 },
          at: new Date(),
        },
        { lastEventSeq: null, lastEventHash: null },
      );
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    expect((await head(childId)).seq).toBe(3);
    expect(await headsOffTheTail(t, [childId])).toHaveLength(1);

    const res = await progress(50);
    expect(res.status).toBe(200);
    expect((await events(childId)).map((e) => [e.seq, e.action])).toEqual([
      [1, 'create'],
      [2, 'accept'],
      [3, 'report-progress'],
      [4, 'report-progress'],
      [5, 'report-progress'],
    ]);
    expect((await head(childId)).seq).toBe(5);
    await expectChainsVerify(t, community, [childId]);
  });

  it('the head is what the next event chains to: a head tampered with in the database breaks the chain, and verification says where', async () => {
    const before = await head(childId);
    await t.ds.query('UPDATE tasks SET last_event_hash = ? WHERE id = ?', ['f'.repeat(64), childId]);
    try {
      expect((await progress(55)).status).toBe(200);
      const verify = await t.http().get(`/api/v1/tasks/${childId}/events/verify`).set(community.auth);
      expect(verify.body).toEqual({ valid: false, count: 6, brokenAtSeq: 6 });
    } finally {
      // put the chain back as it was for the next test: drop the event chained to the forged hash
      await t.ds.query('DELETE FROM task_events WHERE task_id = ? AND seq = 6', [childId]);
      await t.ds.query('UPDATE tasks SET last_event_seq = ?, last_event_hash = ? WHERE id = ?', [before.seq, before.hash, childId]);
    }
    await expectChainsVerify(t, community, [childId]);
  });

  it('actions one after another each move the head by one, and the chain verifies', async () => {
    for (const percent of [60, 70, 80]) expect((await progress(percent)).status).toBe(200);
    expect((await events(childId)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await head(childId)).seq).toBe(8);
    await expectChainsVerify(t, community, [childId]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import { JobName, notifyBatchJobId, QueueName, unknownJob } from '@gridflow/queue';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { OutboxRelay } from '../../apps/worker/src/outbox/outbox-relay.service.js';
import { republishLostJobs } from '../../apps/worker/src/outbox/lost-jobs.js';
import { EffectsProcessor } from '../../apps/worker/src/effects/effects.processor.js';
import { TimerSweeper } from '../../apps/worker/src/timers/timer-sweeper.service.js';
import { createTestApp, login, waitFor, type Session, type TestApp } from '../helpers/app.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const n = async (t: TestApp, sql: string, params: unknown[] = []) => Number(((await t.ds.query(sql, params)) as { n: number }[])[0].n);

describe('transactional outbox → BullMQ → idempotent consumers (integration)', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let dept: Session;

  beforeAll(async () => {
    t = await createTestApp();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    await worker.init();
    dept = await login(t, 'xh-cgj-leader');
  });
  afterAll(async () => {
    await worker.close();
    await t.close();
  });

  it('an action writes its outbox rows in its transaction; the relay publishes them and the notification arrives once', async () => {
    const task = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '占道经营整治', categoryCode: 'STREET_VENDOR_RECTIFICATION', dueAt: inDays(7) });
    expect(task.status).toBe(201);
    const urged = await t.http().post(`/api/v1/tasks/${task.body.id}/actions/urge`).set(dept.auth).send({});
    expect(urged.status).toBe(200);
    const rows = (await t.ds.query("SELECT id FROM outbox WHERE aggregate_id = ? AND job_name = 'notify'", [task.body.id])) as { id: string }[];
    expect(rows).toHaveLength(1);

    // the department's leader and staff are the assignee unit's recipients
    const recipients = await n(t, "SELECT COUNT(*) AS n FROM users WHERE org_unit_id = ? AND roles IN ('leader','staff')", [dept.user.orgUnitId]);
    await waitFor(async () => (await n(t, 'SELECT COUNT(*) AS n FROM notifications WHERE task_id = ?', [task.body.id])) === recipients);
    const inbox = await t.http().get('/api/v1/notifications?unread=true').set(dept.auth);
    const mine = inbox.body.items.filter((i: { taskId: string }) => i.taskId === task.body.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toEqual(expect.objectContaining({ template: 'task.urged', title: '催办：占道经营整治', readAt: null }));
    const read = await t.http().post(`/api/v1/notifications/${mine[0].id}/read`).set(dept.auth);
    expect(read.body.readAt).toEqual(expect.any(String));
    const other = await login(t, 'xh-ylj-leader');
    expect((await t.http().post(`/api/v1/notifications/${mine[0].id}/read`).set(other.auth)).status).toBe(404);

    // publish the same row again (a relay that crashed after publishing, before marking): no second effect
    const relay = worker.get(OutboxRelay);
    const queue = worker.get<Queue>(getQueueToken(QueueName.Effects));
    await queue.remove(`outbox-${rows[0].id}`);
    await t.ds.query('UPDATE outbox SET sent_at = NULL WHERE id = ?', [rows[0].id]);
    await relay.relayOnce();
    await waitFor(async () => (await n(t, 'SELECT attempts AS n FROM outbox WHERE id = ?', [rows[0].id])) === 2);
    await waitFor(async () => {
      const job = await queue.getJob(`outbox-${rows[0].id}`);
      return job ? (await job.getState()) === 'completed' : false;
    });
    expect(await n(t, 'SELECT COUNT(*) AS n FROM notifications WHERE task_id = ?', [task.body.id])).toBe(recipients);
    expect(await n(t, 'SELECT COUNT(*) AS n FROM applied_effects WHERE outbox_id = ?', [rows[0].id])).toBe(1);
  });

  /** Creates tasks owned by the department (no outbox rows of this test's own yet) and returns their ids. */
  const deptTasks = async (count: number, title: string) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: `${title}${i}`, categoryCode: 'STREET_VENDOR_RECTIFICATION', dueAt: inDays(7) });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    return ids;
  };
  /** Writes one notify outbox row per payload in one statement (they commit together, as one action's rows do) and returns their ids. */
  const writeNotices = async (payloads: Record<string, unknown>[]) => {
    // earlier rows (the tasks' own) relayed first, so that these few go out as one batch
    await waitFor(async () => (await n(t, 'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL')) === 0);
    const res = (await t.ds.query(
      `INSERT INTO outbox (job_name, aggregate_id, payload, correlation_id) VALUES ${payloads.map(() => "('notify', ?, ?, ?)").join(',')}`,
      payloads.flatMap((p, i) => [p.taskId, JSON.stringify(p), `test-notice-${i}`]),
    )) as { insertId: number };
    return payloads.map((_, i) => String(Number(res.insertId) + i));
  };
  const outboxRows = (ids: string[]) =>
    t.ds.query(
      `SELECT o.id, o.job_id AS jobId, o.attempts, o.sent_at AS sentAt, o.last_error AS lastError, a.job_name AS appliedAs
         FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id WHERE o.id IN (${ids.map(() => '?').join(',')}) ORDER BY o.id`,
      ids,
    ) as Promise<{ id: string; jobId: string | null; attempts: number; sentAt: Date | null; lastError: string | null; appliedAs: string | null }[]>;
  const urgedOf = "SELECT COUNT(*) AS n FROM notifications WHERE task_id = ? AND template = 'task.urged'";
  const recipientsOfDept = () => n(t, "SELECT COUNT(*) AS n FROM users WHERE org_unit_id = ? AND roles IN ('leader','staff') AND disabled = 0", [dept.user.orgUnitId]);

  it('the notify rows of one relay pass go out as one job; each arrives once, also when the batch is published again', async () => {
    const tasks = await deptTasks(3, '批量通知');
    // the department leader has a phone: an urge also goes out by SMS, queued under the row's own correlation id
    await t.ds.query("UPDATE users SET phone = '13800000017' WHERE id = ?", [dept.user.id]);
    try {
      const ids = await writeNotices(tasks.map((taskId) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner' })));
      await waitFor(async () => (await outboxRows(ids)).every((r) => r.appliedAs === 'notify'));
      const rows = await outboxRows(ids);
      const jobId = rows[0].jobId;
      expect(jobId).toEqual(expect.stringMatching(/^notify-batch-/));
      expect(rows.map((r) => r.jobId)).toEqual([jobId, jobId, jobId]);
      const queue = worker.get<Queue>(getQueueToken(QueueName.Effects));
      const job = await waitFor(async () => {
        const j = await queue.getJob(jobId!);
        return j && (await j.getState()) === 'completed' ? j : null;
      });
      expect(job.name).toBe(JobName.NotifyBatch);
      const carried = (job.data as { items: { outboxId: string }[] }).items.map((i) => i.outboxId);
      expect(carried).toEqual(expect.arrayContaining(ids));
      expect(jobId).toBe(notifyBatchJobId(carried));
      for (const id of ids) expect(await queue.getJob(`outbox-${id}`)).toBeUndefined();

      const recipients = await recipientsOfDept();
      expect(recipients).toBeGreaterThan(0);
      const perTask = () => Promise.all(tasks.map((id) => n(t, urgedOf, [id])));
      expect(await perTask()).toEqual([recipients, recipients, recipients]);
      // one SMS per task, each queued under the correlation id of the notify row it came from
      const sms = () =>
        t.ds.query(
          `SELECT s.task_id AS taskId, o.correlation_id AS correlationId FROM sms_outbox s
             JOIN outbox o ON o.job_name = 'send-sms' AND o.aggregate_id = s.id
            WHERE s.task_id IN (?, ?, ?) ORDER BY s.task_id`,
          tasks,
        ) as Promise<{ taskId: string; correlationId: string }[]>;
      const expected = tasks
        .map((taskId, i) => ({ taskId, correlationId: `test-notice-${i}` }))
        .sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
      expect(await sms()).toEqual(expected);

      // the same rows published again, as after a relay crash between publishing and marking: nothing is delivered twice
      await queue.remove(jobId!);
      await t.ds.query(`UPDATE outbox SET sent_at = NULL WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
      await waitFor(async () => (await outboxRows(ids)).every((r) => Number(r.attempts) === 2 && r.sentAt));
      const again = (await outboxRows(ids))[0].jobId!;
      await waitFor(async () => (await (await queue.getJob(again))?.getState()) === 'completed');
      expect(await perTask()).toEqual([recipients, recipients, recipients]);
      expect(await sms()).toEqual(expected);
      expect(await n(t, `SELECT COUNT(*) AS n FROM applied_effects WHERE outbox_id IN (${ids.map(() => '?').join(',')})`, ids)).toBe(3);
    } finally {
      await t.ds.query('UPDATE users SET phone = NULL WHERE id = ?', [dept.user.id]);
    }
  });

  it('two jobs delivering the same rows at once deliver each notification and SMS once', async () => {
    const tasks = await deptTasks(2, '并发通知');
    await t.ds.query("UPDATE users SET phone = '13800000018' WHERE id = ?", [dept.user.id]);
    try {
      // rows already marked sent (the relay leaves them alone), delivered by two copies of one batch job at once
      const ids = await writeNotices(tasks.map((taskId) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner' })));
      await t.ds.query('UPDATE outbox SET sent_at = NOW(3), attempts = 1 WHERE id IN (?, ?)', ids);
      const items = tasks.map((taskId, i) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner', outboxId: ids[i], correlationId: null }));
      const processor = worker.get(EffectsProcessor);
      const copy = (k: number) => ({ id: `test-copy-${k}`, name: JobName.NotifyBatch, data: { items } }) as unknown as Job;
      await Promise.all([processor.process(copy(1)), processor.process(copy(2))]);
      const recipients = await recipientsOfDept();
      for (const id of tasks) {
        expect(await n(t, urgedOf, [id])).toBe(recipients);
        expect(await n(t, 'SELECT COUNT(*) AS n FROM sms_outbox WHERE task_id = ?', [id])).toBe(1);
      }
      expect((await outboxRows(ids)).map((r) => r.appliedAs)).toEqual(['notify', 'notify']);
    } finally {
      await t.ds.query('UPDATE users SET phone = NULL WHERE id = ?', [dept.user.id]);
    }
  });

  it('a notify row that cannot be delivered fails alone: the other rows of its batch arrive', async () => {
    const tasks = await deptTasks(2, '坏通知');
    // the database refuses every notification about the second task (a trigger), as it would a row it cannot store
    await t.ds.query('DROP TRIGGER IF EXISTS test_refuse_notification');
    await t.ds.query(
      `CREATE TRIGGER test_refuse_notification BEFORE INSERT ON notifications FOR EACH ROW
         IF NEW.task_id = '${tasks[1]}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF`,
    );
    try {
      const ids = await writeNotices(tasks.map((taskId) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner' })));
      const [good, bad] = await waitFor(async () => {
        const rows = await outboxRows(ids);
        return rows[0].appliedAs && rows[1].lastError ? rows : null;
      });
      expect(good.jobId).toEqual(expect.stringMatching(/^notify-batch-/));
      expect(bad.jobId).toBe(good.jobId);
      expect(good.appliedAs).toBe('notify');
      expect(good.lastError).toBeNull();
      expect(bad.appliedAs).toBeNull();
      expect(bad.lastError).toMatch(new RegExp(`1 of 2 notify rows failed \\(outbox ${bad.id}\\): refused by the test`));
      expect(await n(t, urgedOf, [tasks[0]])).toBe(await recipientsOfDept());
      expect(await n(t, urgedOf, [tasks[1]])).toBe(0);
      // once the database takes it, the job's next attempt delivers the row that failed, and only it
      await t.ds.query('DROP TRIGGER test_refuse_notification');
      await waitFor(async () => (await outboxRows([bad.id]))[0].appliedAs === 'notify', 30000);
      expect(await n(t, urgedOf, [tasks[1]])).toBe(await recipientsOfDept());
      expect(await n(t, urgedOf, [tasks[0]])).toBe(await recipientsOfDept());
    } finally {
      await t.ds.query('DROP TRIGGER IF EXISTS test_refuse_notification');
    }
  });

  it('after Redis lost data, a batched row goes back to the relay only when its batch job is gone', async () => {
    const queue = worker.get<Queue>(getQueueToken(QueueName.Effects));
    const outbound = worker.get<Queue>(getQueueToken(QueueName.Outbound));
    const tasks = await deptTasks(2, '丢失的批');
    let ids: string[] = [];
    await queue.pause();
    try {
      ids = await writeNotices(tasks.map((taskId) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner' })));
      const [first] = await waitFor(async () => {
        const rows = await outboxRows(ids);
        return rows.every((r) => r.sentAt) ? rows : null;
      });
      expect(await (await queue.getJob(first.jobId!))?.getState()).toBe('waiting');
      // the batch job is still there: the rows stay as they are (a per-row lookup would find no outbox-<id> job)
      await republishLostJobs(t.ds, { effects: queue, outbound });
      expect((await outboxRows(ids)).map((r) => [r.attempts, r.sentAt !== null, r.appliedAs])).toEqual([
        [1, true, null],
        [1, true, null],
      ]);
      // the batch job is gone: both rows go back to the relay, which publishes them again
      await queue.remove(first.jobId!);
      expect(await republishLostJobs(t.ds, { effects: queue, outbound })).toBeGreaterThanOrEqual(2);
      await waitFor(async () => (await outboxRows(ids)).every((r) => Number(r.attempts) === 2 && r.sentAt));
    } finally {
      await queue.resume();
    }
    await waitFor(async () => (await outboxRows(ids)).every((r) => r.appliedAs === 'notify'));
    const recipients = await recipientsOfDept();
    for (const id of tasks) expect(await n(t, urgedOf, [id])).toBe(recipients);
  });

  it('a batch a worker of the earlier release failed as unknown runs again and arrives once; other failures stay', async () => {
    const queue = worker.get<Queue>(getQueueToken(QueueName.Effects));
    const processor = worker.get(EffectsProcessor);
    const sweeper = worker.get(TimerSweeper);
    const tasks = await deptTasks(2, '升级中的批');
    // the tasks' own outbox rows relayed and their jobs done, so that the effects queue holds nothing
    await waitFor(async () => (await n(t, 'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL')) === 0);
    await waitFor(async () => {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(c).every((v) => v === 0);
    });
    // during an upgrade a worker of the earlier release takes the effects jobs: it knows `notify`, not `notify-batch`
    let reason = 'Lock wait timeout exceeded';
    await processor.worker.pause(true);
    // a paused worker blocked waiting for work still takes the next job once: let that be a job that does nothing
    const nothing = await queue.add(JobName.Notify, {}, { attempts: 1 });
    await waitFor(async () => (await nothing.getState()) === 'failed');
    const earlier = new Worker(
      queue.name,
      async (job: Job, token?: string) => {
        if (job.name === JobName.NotifyBatch) throw new UnrecoverableError(reason);
        return processor.process(job, token);
      },
      { connection: queue.opts.connection, prefix: queue.opts.prefix },
    );
    const setSent = (ids: string[], sql: string) =>
      t.ds.query(`UPDATE outbox SET sent_at = ${sql} WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
    const failedWith = async (jobId: string, failedReason: string) =>
      waitFor(async () => {
        const j = await queue.getJob(jobId);
        return j && (await j.getState()) === 'failed' && j.failedReason === failedReason ? j : null;
      });
    const state = async (ids: string[]) =>
      (await outboxRows(ids)).map((r) => [Number(r.attempts), r.jobId, r.sentAt?.getTime(), r.appliedAs]);
    let ids: string[] = [];
    let jobId: string | undefined;
    try {
      ids = await writeNotices(tasks.map((taskId) => ({ taskId, eventSeq: 1, template: 'task.urged', to: 'owner' })));
      const [first] = await waitFor(async () => {
        const rows = await outboxRows(ids);
        return rows.every((r) => r.sentAt) ? rows : null;
      });
      jobId = first.jobId!;
      const job = await failedWith(jobId, reason);

      // any other failure is kept for an operator: the sweep leaves the job and its rows as they are
      await setSent(ids, 'NOW(3) - INTERVAL 2 MINUTE');
      const before = await state(ids);
      const kept = await sweeper.sweepOnce();
      expect(kept.outboxJobsRetried).toBe(0);
      expect(await state(ids)).toEqual(before);
      expect(before.map(([attempts, , , applied]) => [attempts, applied])).toEqual([
        [1, null],
        [1, null],
      ]);
      expect(await job.getState()).toBe('failed');

      // failed as unknown (rows fresh again meanwhile, so that no periodic sweep acts before the upgrade completes)
      await setSent(ids, 'NOW(3)');
      reason = unknownJob(JobName.NotifyBatch);
      await job.retry('failed');
      await failedWith(jobId, reason);
    } finally {
      // the upgrade completes: the earlier worker stops, one of this release runs
      await earlier.close();
      processor.worker.resume();
    }
    await setSent(ids, 'NOW(3) - INTERVAL 2 MINUTE');
    const report = await sweeper.sweepOnce();
    expect(report.outboxJobsRetried).toBe(1);
    expect(report.outboxRepublished).toBe(0);
    // the same job runs again where it was: each notification arrives once, and the rows were not published again
    await waitFor(async () => (await outboxRows(ids)).every((r) => r.appliedAs === 'notify'));
    expect(await (await queue.getJob(jobId!))?.getState()).toBe('completed');
    expect((await outboxRows(ids)).map((r) => [Number(r.attempts), r.jobId])).toEqual([
      [1, jobId],
      [1, jobId],
    ]);
    const recipients = await recipientsOfDept();
    for (const id of tasks) expect(await n(t, urgedOf, [id])).toBe(recipients);
    // a second sweep finds nothing to do
    expect((await sweeper.sweepOnce()).outboxJobsRetried).toBe(0);
  });

  it('a job of a name this release does not run (from a later release, after a rollback) fails and is left for an operator', async () => {
    const queue = worker.get<Queue>(getQueueToken(QueueName.Effects));
    const [taskId] = await deptTasks(1, '未来的任务');
    const res = (await t.ds.query("INSERT INTO outbox (job_name, aggregate_id, payload, correlation_id) VALUES ('archive-task', ?, ?, 'test-later')", [
      taskId,
      JSON.stringify({ taskId }),
    ])) as { insertId: number };
    const id = String(res.insertId);
    const job = await waitFor(async () => {
      const j = await queue.getJob(`outbox-${id}`);
      return j && (await j.getState()) === 'failed' ? j : null;
    });
    expect(job.failedReason).toBe(unknownJob('archive-task'));
    await t.ds.query('UPDATE outbox SET sent_at = NOW(3) - INTERVAL 2 MINUTE WHERE id = ?', [id]);
    const report = await worker.get(TimerSweeper).sweepOnce();
    expect(report.outboxJobsRetried).toBe(0);
    expect(await job.getState()).toBe('failed');
    const [row] = await outboxRows([id]);
    expect([Number(row.attempts), row.appliedAs, row.lastError]).toEqual([1, null, unknownJob('archive-task')]);
    await queue.remove(`outbox-${id}`);
    await t.ds.query('DELETE FROM outbox WHERE id = ?', [id]);
  });

  it('nothing reaches the outbox when the action is refused', async () => {
    const before = await n(t, 'SELECT COUNT(*) AS n FROM outbox');
    const task = await t.http().post('/api/v1/tasks').set(dept.auth).send({ title: '拒绝测试', categoryCode: 'STREET_VENDOR_RECTIFICATION', dueAt: inDays(7) });
    const afterCreate = await n(t, 'SELECT COUNT(*) AS n FROM outbox');
    const refused = await t.http().post(`/api/v1/tasks/${task.body.id}/actions/report-progress`).set(dept.auth).send({ percent: 'lots' });
    expect(refused.status).toBe(422);
    expect(await n(t, 'SELECT COUNT(*) AS n FROM outbox')).toBe(afterCreate);
    expect(afterCreate).toBeGreaterThanOrEqual(before);
  });
});

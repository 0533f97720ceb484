import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { QueueName } from '@gridflow/queue';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { OutboxRelay } from '../../apps/worker/src/outbox/outbox-relay.service.js';
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

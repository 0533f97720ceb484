import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { newId, validateEnv, webhookSecretKey } from '@gridflow/common';
import { LoggingSmsSender, openWebhookSecret, SMS_SENDER } from '@gridflow/domain';
import { dataSourceOptions, ensureDatabase, MIGRATIONS } from '@gridflow/persistence';
import { QueueName, webhookJobId } from '@gridflow/queue';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { OutboxRelay } from '../../apps/worker/src/outbox/outbox-relay.service.js';
import { createTestApp, login, waitFor, type Session, type TestApp } from '../helpers/app.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

/** A webhook receiver on 127.0.0.1: records every request; `/flaky` fails each delivery twice, `/down` always. */
function startReceiver(): Promise<{ server: Server; url: (path: string) => string; received: Received[] }> {
  const received: Received[] = [];
  const tries = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const delivery = String(req.headers['x-gridflow-delivery']);
      const n = (tries.get(delivery) ?? 0) + 1;
      tries.set(delivery, n);
      const fail = req.url === '/down' || (req.url === '/flaky' && n <= 2);
      res.statusCode = fail ? 500 : 200;
      res.end(fail ? 'nope' : 'ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ server, url: (path) => `http://127.0.0.1:${port}${path}`, received });
    }),
  );
}

describe('outbound notification channels: webhooks and SMS (integration)', () => {
  const SECRET = 'whsec-integration-test-secret-0123456789';
  const saved = { backoff: process.env.WEBHOOK_BACKOFF_MS, attempts: process.env.WEBHOOK_MAX_ATTEMPTS };
  let t: TestApp;
  let worker: INestApplicationContext;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: Session;
  let dept: Session;
  const responses: unknown[] = [];

  /** Every webhook API response body is kept, to prove the secret never leaves the server. */
  const api = async (method: 'get' | 'post' | 'patch', path: string, who: Session, body?: object) => {
    const req = t.http()[method](path).set(who.auth);
    const res = body ? await req.send(body) : await req;
    responses.push(res.body);
    return res;
  };

  const urgeNewTask = async (title: string): Promise<string> => {
    const task = await t
      .http()
      .post('/api/v1/tasks')
      .set(dept.auth)
      .send({ title, categoryCode: 'STREET_VENDOR_RECTIFICATION', dueAt: inDays(7) });
    expect(task.status).toBe(201);
    const urged = await t.http().post(`/api/v1/tasks/${task.body.id}/actions/urge`).set(dept.auth).send({});
    expect(urged.status).toBe(200);
    return task.body.id as string;
  };

  const urgeNotifications = async (taskId: string, count: number) =>
    waitFor(async () => {
      const rows = (await t.ds.query("SELECT id FROM notifications WHERE task_id = ? AND template = 'task.urged'", [
        taskId,
      ])) as { id: string }[];
      return rows.length === count ? rows : null;
    });

  const deliveriesOf = (taskId: string, endpointId: string) =>
    t.ds.query(
      'SELECT id, status, attempts, last_status_code, last_error FROM webhook_deliveries WHERE task_id = ? AND endpoint_id = ? ORDER BY id',
      [taskId, endpointId],
    ) as Promise<DeliveryRow[]>;

  let recipients: number;

  beforeAll(async () => {
    process.env.WEBHOOK_BACKOFF_MS = '50';
    process.env.WEBHOOK_MAX_ATTEMPTS = '3';
    receiver = await startReceiver();
    t = await createTestApp();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    await worker.init();
    admin = await login(t, 'admin');
    dept = await login(t, 'xh-cgj-leader');
    const rows = (await t.ds.query(
      "SELECT COUNT(*) AS n FROM users WHERE org_unit_id = ? AND disabled = 0 AND roles IN ('leader','staff')",
      [dept.user.orgUnitId],
    )) as { n: number }[];
    recipients = Number(rows[0].n);
    expect(recipients).toBeGreaterThan(0);
  });

  afterAll(async () => {
    // leave no enabled endpoint behind for the suites that follow
    await t.ds.query('UPDATE webhook_endpoints SET enabled = 0');
    await worker.close();
    await t.close();
    await new Promise((r) => receiver.server.close(r));
    process.env.WEBHOOK_BACKOFF_MS = saved.backoff;
    process.env.WEBHOOK_MAX_ATTEMPTS = saved.attempts;
    if (saved.backoff === undefined) delete process.env.WEBHOOK_BACKOFF_MS;
    if (saved.attempts === undefined) delete process.env.WEBHOOK_MAX_ATTEMPTS;
  });

  it('only administrators manage webhooks; URLs must be http(s) (else 422)', async () => {
    const body = { url: receiver.url('/nobody'), secret: SECRET, events: ['*'] };
    expect((await api('post', '/api/v1/webhooks', dept, body)).status).toBe(403);
    expect((await api('get', '/api/v1/webhooks', dept)).status).toBe(403);
    expect((await api('get', '/api/v1/webhooks/deliveries?status=failed', dept)).status).toBe(403);
    const auditor = await login(t, 'xh-audit');
    expect((await api('get', '/api/v1/webhooks', auditor)).status).toBe(403);

    const ftp = await api('post', '/api/v1/webhooks', admin, { ...body, url: 'ftp://127.0.0.1/x' });
    expect(ftp.status).toBe(422);
    expect(ftp.body.code).toBe('WEBHOOK_URL_FORBIDDEN');
    expect((await api('post', '/api/v1/webhooks', admin, { ...body, url: 'http://user:pw@127.0.0.1/x' })).status).toBe(
      400,
    );
    expect((await api('post', '/api/v1/webhooks', admin, { ...body, secret: 'short' })).status).toBe(400);
    expect((await api('post', '/api/v1/webhooks', admin, { ...body, events: ['Not An Event'] })).status).toBe(400);
    const list = await api('get', '/api/v1/webhooks', admin);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]); // no default endpoint
  });

  let endpointId: string;

  it('a notification is POSTed once per delivery, signed with the endpoint secret over the exact body', async () => {
    const created = await api('post', '/api/v1/webhooks', admin, {
      url: receiver.url('/ok'),
      secret: SECRET,
      events: ['task.urged'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(
      expect.objectContaining({ url: receiver.url('/ok'), events: ['task.urged'], enabled: true }),
    );
    expect(created.body).not.toHaveProperty('secret');
    endpointId = created.body.id;
    expect((await api('get', `/api/v1/webhooks/${endpointId}`, admin)).body).not.toHaveProperty('secret');
    // stored encrypted: the column holds no plaintext, yet the receiver below verifies the signature
    const [stored] = (await t.ds.query('SELECT secret_ciphertext FROM webhook_endpoints WHERE id = ?', [
      endpointId,
    ])) as { secret_ciphertext: string }[];
    expect(stored.secret_ciphertext).toMatch(/^v1\./);
    expect(stored.secret_ciphertext).not.toContain(SECRET);

    const taskId = await urgeNewTask('占道经营整治（webhook）');
    const notifications = await urgeNotifications(taskId, recipients);
    await waitFor(
      async () =>
        (await deliveriesOf(taskId, endpointId)).filter((d) => d.status === 'delivered').length === recipients,
    );
    await sleep(300); // nothing more arrives
    const hits = receiver.received.filter((r) => r.path === '/ok');
    expect(hits).toHaveLength(recipients); // one per notification, and only task.urged (not task.assigned)
    for (const hit of hits) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(hit.body).digest('hex')}`;
      expect(hit.headers['x-gridflow-signature']).toBe(expected);
      expect(hit.headers['content-type']).toBe('application/json');
      expect(Date.parse(String(hit.headers['x-gridflow-timestamp']))).not.toBeNaN();
      const payload = JSON.parse(hit.body);
      expect(hit.headers['x-gridflow-delivery']).toBe(payload.deliveryId);
      expect(payload).toEqual(
        expect.objectContaining({
          event: 'task.urged',
          notification: expect.objectContaining({ taskId, template: 'task.urged' }),
        }),
      );
    }
    expect(new Set(hits.map((h) => JSON.parse(h.body).notification.id))).toEqual(
      new Set(notifications.map((n) => n.id)),
    );
    for (const d of await deliveriesOf(taskId, endpointId))
      expect(d).toEqual(expect.objectContaining({ status: 'delivered', attempts: 1, last_status_code: 200 }));

    // redeliver the same job (a relay that crashed after publishing, before marking): nothing more is sent
    const [first] = await deliveriesOf(taskId, endpointId);
    const [outbox] = (await t.ds.query(
      "SELECT id FROM outbox WHERE job_name = 'deliver-webhook' AND aggregate_id = ?",
      [first.id],
    )) as { id: string }[];
    const queue = worker.get<Queue>(getQueueToken(QueueName.Outbound));
    await queue.remove(webhookJobId(first.id));
    await t.ds.query('UPDATE outbox SET sent_at = NULL WHERE id = ?', [outbox.id]);
    await worker.get(OutboxRelay).relayOnce();
    await waitFor(async () => {
      const job = await queue.getJob(webhookJobId(first.id));
      return job ? (await job.getState()) === 'completed' : false;
    });
    await sleep(200);
    expect(receiver.received.filter((r) => r.path === '/ok')).toHaveLength(recipients);
    expect((await deliveriesOf(taskId, endpointId))[0]).toEqual(
      expect.objectContaining({ status: 'delivered', attempts: 1 }),
    );
  });

  it('a receiver that answers 500 twice, then 200, gets three attempts and one delivered row per notification', async () => {
    await api('patch', `/api/v1/webhooks/${endpointId}`, admin, { enabled: false });
    const flaky = await api('post', '/api/v1/webhooks', admin, {
      url: receiver.url('/flaky'),
      secret: SECRET,
      events: ['*'],
    });
    expect(flaky.status).toBe(201);
    const taskId = await urgeNewTask('占道经营整治（重试）');
    await urgeNotifications(taskId, recipients);
    const rows = await waitFor(async () => {
      const d = await deliveriesOf(taskId, flaky.body.id);
      return d.length >= recipients && d.every((x) => x.status === 'delivered') ? d : null;
    });
    // every notification of the task (task.assigned on creation too: events '*'), one delivery each
    const total = Number(
      ((await t.ds.query('SELECT COUNT(*) AS n FROM notifications WHERE task_id = ?', [taskId])) as { n: number }[])[0]
        .n,
    );
    expect(rows).toHaveLength(total);
    for (const d of rows)
      expect(d).toEqual(expect.objectContaining({ status: 'delivered', attempts: 3, last_status_code: 200 }));
    await sleep(200);
    for (const d of rows) {
      const hits = receiver.received.filter((r) => r.path === '/flaky' && r.headers['x-gridflow-delivery'] === d.id);
      expect(hits).toHaveLength(3);
      expect(new Set(hits.map((h) => h.body)).size).toBe(1); // the same body on every attempt
    }
    await api('patch', `/api/v1/webhooks/${flaky.body.id}`, admin, { enabled: false });
  });

  it('a receiver that always fails leaves failed rows, visible to administrators', async () => {
    const down = await api('post', '/api/v1/webhooks', admin, {
      url: receiver.url('/down'),
      secret: SECRET,
      events: ['task.urged'],
    });
    const taskId = await urgeNewTask('占道经营整治（失败）');
    await urgeNotifications(taskId, recipients);
    const rows = await waitFor(async () => {
      const d = await deliveriesOf(taskId, down.body.id);
      return d.length === recipients && d.every((x) => x.status === 'failed') ? d : null;
    });
    for (const d of rows)
      expect(d).toEqual(expect.objectContaining({ attempts: 3, last_status_code: 500, last_error: 'HTTP 500' }));
    const failed = await api('get', `/api/v1/webhooks/deliveries?status=failed&endpointId=${down.body.id}`, admin);
    expect(failed.status).toBe(200);
    expect(failed.body.items.map((i: { id: string }) => i.id).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(failed.body.items[0]).toEqual(
      expect.objectContaining({ status: 'failed', attempts: 3, lastStatusCode: 500, template: 'task.urged', taskId }),
    );
    const all = await api('get', '/api/v1/webhooks/deliveries?status=failed', admin);
    expect(all.body.items.every((i: { status: string }) => i.status === 'failed')).toBe(true);
    await api('patch', `/api/v1/webhooks/${down.body.id}`, admin, { enabled: false, secret: `${SECRET}-rotated` });
    await api('get', '/api/v1/webhooks', admin);
  });

  it('the secret never appears in any webhook API response', () => {
    expect(responses.length).toBeGreaterThan(10);
    for (const body of responses) expect(JSON.stringify(body)).not.toContain(SECRET);
  });

  it('an urge goes out by SMS once to a recipient with a phone (logging driver)', async () => {
    const phone = '13800138000';
    const patched = await t.http().patch(`/api/v1/users/${dept.user.id}`).set(admin.auth).send({ phone });
    expect(patched.status).toBe(200);
    expect(patched.body.phone).toBe(phone);
    const auditor = await login(t, 'xh-audit');
    const seen = await t.http().get(`/api/v1/users/${dept.user.id}`).set(auditor.auth);
    expect(seen.status).toBe(200);
    expect(seen.body).not.toHaveProperty('phone'); // administrators only

    const sender = worker.get<LoggingSmsSender>(SMS_SENDER);
    const before = sender.sent.length;
    const taskId = await urgeNewTask('占道经营整治（短信）');
    const rows = await waitFor(async () => {
      const r = (await t.ds.query(
        "SELECT user_id, phone, status, attempts, driver, text FROM sms_outbox WHERE task_id = ? AND status = 'sent'",
        [taskId],
      )) as {
        user_id: string;
        phone: string;
        status: string;
        attempts: number;
        driver: string;
        text: string;
      }[];
      return r.length ? r : null;
    });
    // redeliver the notify job: the notification is deduplicated, so is its SMS
    const [notify] = (await t.ds.query("SELECT id FROM outbox WHERE aggregate_id = ? AND job_name = 'notify'", [
      taskId,
    ])) as { id: string }[];
    await t.ds.query('DELETE FROM applied_effects WHERE outbox_id = ?', [notify.id]);
    const effects = worker.get<Queue>(getQueueToken(QueueName.Effects));
    await effects.remove(`outbox-${notify.id}`);
    await t.ds.query('UPDATE outbox SET sent_at = NULL WHERE id = ?', [notify.id]);
    await worker.get(OutboxRelay).relayOnce();
    await waitFor(
      async () =>
        ((await t.ds.query('SELECT outbox_id FROM applied_effects WHERE outbox_id = ?', [notify.id])) as unknown[])
          .length === 1,
    );
    await sleep(300);

    expect(rows).toEqual([
      expect.objectContaining({
        user_id: dept.user.id,
        phone,
        attempts: 1,
        driver: 'log',
        text: '【Gridflow】催办：占道经营整治（短信）',
      }),
    ]);
    expect(((await t.ds.query('SELECT id FROM sms_outbox WHERE task_id = ?', [taskId])) as unknown[]).length).toBe(1);
    const mine = sender.sent.slice(before).filter((s) => s.text.includes('占道经营整治（短信）'));
    expect(mine).toEqual([expect.objectContaining({ phone, text: '【Gridflow】催办：占道经营整治（短信）' })]);
    await t.http().patch(`/api/v1/users/${dept.user.id}`).set(admin.auth).send({ phone: null });
  });
});

describe('webhook secrets at rest: the migration encrypts existing plaintext secrets (integration, scratch database)', () => {
  const url = (process.env.DATABASE_URL as string).replace(/\/([A-Za-z0-9_]+)$/, '/$1_whsecrets');
  const upTo = MIGRATIONS.findIndex((m) => m.name === 'WebhookSecretsDeleteResend1763900700000');
  const open = async (migrations: typeof MIGRATIONS) => {
    const ds = new DataSource({ ...dataSourceOptions({ url, poolSize: 2 }), migrations });
    await ds.initialize();
    return ds;
  };

  afterAll(async () => {
    const ds = await open([]);
    await ds.query(`DROP DATABASE IF EXISTS \`${url.split('/').pop()}\``);
    await ds.destroy();
  });

  it('turns every plaintext secret into AES-256-GCM ciphertext that opens under the key, and down restores it', async () => {
    expect(upTo).toBeGreaterThan(0);
    await ensureDatabase(url);
    const before = await open(MIGRATIONS.slice(0, upTo));
    await before.runMigrations({ transaction: 'each' });
    const id = newId();
    const plaintext = 'whsec-legacy-plaintext-0123456789';
    await before.query(
      "INSERT INTO webhook_endpoints (id, url, secret, events, enabled, created_by) VALUES (?, 'https://hooks.example.gov.cn/x', ?, '*', 1, ?)",
      [id, plaintext, newId()],
    );
    await before.destroy();

    const after = await open(MIGRATIONS.slice(0, upTo + 1));
    try {
      expect((await after.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual([
        'WebhookSecretsDeleteResend1763900700000',
      ]);
      const [row] = (await after.query('SELECT * FROM webhook_endpoints WHERE id = ?', [id])) as Record<
        string,
        unknown
      >[];
      expect(row).not.toHaveProperty('secret');
      expect(JSON.stringify(row)).not.toContain(plaintext);
      const key = webhookSecretKey(validateEnv(process.env));
      expect(openWebhookSecret(key, id, row.secret_ciphertext as string)).toBe(plaintext);

      await after.undoLastMigration({ transaction: 'each' });
      const [back] = (await after.query('SELECT secret FROM webhook_endpoints WHERE id = ?', [id])) as {
        secret: string;
      }[];
      expect(back.secret).toBe(plaintext);
    } finally {
      await after.destroy();
    }
  });
});

import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import { newId, validateEnv, webhookSecretKey } from '@gridflow/common';
import { sealWebhookSecret } from '@gridflow/domain';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { createTestApp, login, waitFor, type Session } from '../helpers/app.js';

const inDays = (d: number) => new Date(Date.now() + d * 86400_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
}

interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  resends: number;
  last_status_code: number | null;
  last_error: string | null;
}

/**
 * A webhook receiver on 127.0.0.1 that records every request and answers by path: `reply(path, n)` gets the n-th
 * request (1-based) of one delivery on that path; unknown paths get 200.
 */
function startReceiver(reply: (path: string, n: number) => Reply) {
  const received: Received[] = [];
  const tries = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const key = `${path} ${String(req.headers['x-gridflow-delivery'])}`;
      const n = (tries.get(key) ?? 0) + 1;
      tries.set(key, n);
      const r = reply(path, n);
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.status < 300 ? 'ok' : 'no');
    });
  });
  return new Promise<{ server: Server; port: number; url: (path: string) => string; received: Received[] }>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ server, port, url: (path) => `http://127.0.0.1:${port}${path}`, received });
    }),
  );
}

/** Sets test env variables for the apps created next; `restore` puts the previous values back. */
function withEnv(values: Record<string, string>) {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** The API in process, a worker, and the demo administrator and department head. */
async function startStack() {
  const t = await createTestApp();
  const [{ startedAt }] = (await t.ds.query("SELECT DATE_FORMAT(NOW(3), '%Y-%m-%d %H:%i:%s.%f') AS startedAt")) as {
    startedAt: string;
  }[];
  const worker = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
  await worker.init();
  const admin = await login(t, 'admin');
  const dept = await login(t, 'xh-cgj-leader');
  const rows = (await t.ds.query(
    "SELECT COUNT(*) AS n FROM users WHERE org_unit_id = ? AND disabled = 0 AND roles IN ('leader','staff')",
    [dept.user.orgUnitId],
  )) as { n: number }[];
  const recipients = Number(rows[0].n);
  expect(recipients).toBeGreaterThan(0);

  /** Creates a task and urges it: one task.urged notification per recipient. */
  const urgeNewTask = async (title: string): Promise<string> => {
    const task = await t
      .http()
      .post('/api/v1/tasks')
      .set(dept.auth)
      .send({ title, categoryCode: 'STREET_VENDOR_RECTIFICATION', dueAt: inDays(7) });
    expect(task.status).toBe(201);
    const urged = await t.http().post(`/api/v1/tasks/${task.body.id}/actions/urge`).set(dept.auth).send({});
    expect(urged.status).toBe(200);
    await waitFor(async () => {
      const n = (await t.ds.query("SELECT id FROM notifications WHERE task_id = ? AND template = 'task.urged'", [
        task.body.id,
      ])) as unknown[];
      return n.length === recipients;
    });
    return task.body.id as string;
  };

  const deliveriesOf = (taskId: string, endpointId: string) =>
    t.ds.query(
      'SELECT id, status, attempts, resends, last_status_code, last_error FROM webhook_deliveries WHERE task_id = ? AND endpoint_id = ? ORDER BY id',
      [taskId, endpointId],
    ) as Promise<DeliveryRow[]>;

  /** Waits until the task has one delivery per recipient on the endpoint, all satisfying `done`. */
  const settled = (taskId: string, endpointId: string, done: (d: DeliveryRow) => boolean) =>
    waitFor(async () => {
      const d = await deliveriesOf(taskId, endpointId);
      return d.length === recipients && d.every(done) ? d : null;
    });

  const close = async () => {
    // leave no endpoint of this suite behind (even after a failed test) for the suites that follow
    await t.ds.query(
      'UPDATE webhook_endpoints SET enabled = 0, secret_ciphertext = NULL, deleted_at = NOW(3) WHERE deleted_at IS NULL AND created_at >= ?',
      [startedAt],
    );
    await t.ds.query('UPDATE webhook_endpoints SET enabled = 0');
    await worker.close();
    await t.close();
  };

  return { t, worker, admin, dept, recipients, urgeNewTask, deliveriesOf, settled, close };
}

describe('webhooks: delete, resend, retry policy and secrets at rest (e2e)', () => {
  const SECRET = 'whsec-e2e-secret-0123456789abcdef';
  let restoreEnv: () => void;
  let s: Awaited<ReturnType<typeof startStack>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let resendOk = false;
  const responses: unknown[] = [];

  const replies: Record<string, (n: number) => Reply> = {
    '/bad-request': () => ({ status: 400 }),
    '/unavailable': () => ({ status: 503 }),
    '/slow-down': (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 }),
    '/waiting': () => ({ status: 503, headers: { 'retry-after': '1' } }),
    '/resend': () => ({ status: resendOk ? 200 : 400 }),
  };

  const api = async (method: 'get' | 'post' | 'patch' | 'delete', path: string, who: Session, body?: object) => {
    const req = s.t.http()[method](path).set(who.auth);
    const res = body ? await req.send(body) : await req;
    responses.push(res.body);
    return res;
  };

  const createEndpoint = async (path: string, secret = SECRET) => {
    const res = await api('post', '/api/v1/webhooks', s.admin, {
      url: receiver.url(path),
      secret,
      events: ['task.urged'],
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  const hits = (path: string, deliveryId?: string) =>
    receiver.received.filter(
      (r) => r.path === path && (deliveryId === undefined || r.headers['x-gridflow-delivery'] === deliveryId),
    );

  beforeAll(async () => {
    restoreEnv = withEnv({
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_BACKOFF_MS: '50',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RETRY_AFTER_MAX_MS: '1500',
    });
    receiver = await startReceiver((path, n) => (replies[path] ?? (() => ({ status: 200 })))(n));
    s = await startStack();
  });

  afterAll(async () => {
    await s.close();
    await new Promise((r) => receiver.server.close(r));
    restoreEnv();
  });

  it('DELETE stops deliveries to the endpoint, hides it (404) and keeps its past deliveries readable', async () => {
    const id = await createEndpoint('/gone');
    const before = await s.urgeNewTask('占道经营整治（删除前）');
    const delivered = await s.settled(before, id, (d) => d.status === 'delivered');
    expect(hits('/gone')).toHaveLength(s.recipients);

    expect((await api('delete', `/api/v1/webhooks/${id}`, s.dept)).status).toBe(403);
    expect((await api('delete', `/api/v1/webhooks/${newId()}`, s.admin)).status).toBe(404);
    const deleted = await api('delete', `/api/v1/webhooks/${id}`, s.admin);
    expect(deleted.status).toBe(204);
    expect((await api('get', `/api/v1/webhooks/${id}`, s.admin)).status).toBe(404);
    expect((await api('patch', `/api/v1/webhooks/${id}`, s.admin, { enabled: true })).status).toBe(404);
    const again = await api('delete', `/api/v1/webhooks/${id}`, s.admin);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('NOT_FOUND');
    const list = await api('get', '/api/v1/webhooks', s.admin);
    expect(list.body.items.map((e: { id: string }) => e.id)).not.toContain(id);
    const [row] = (await s.t.ds.query(
      'SELECT enabled, secret_ciphertext, deleted_at FROM webhook_endpoints WHERE id = ?',
      [id],
    )) as { enabled: number; secret_ciphertext: string | null; deleted_at: Date | null }[];
    expect(row).toEqual(expect.objectContaining({ enabled: 0, secret_ciphertext: null }));
    expect(row.deleted_at).not.toBeNull();

    const after = await s.urgeNewTask('占道经营整治（删除后）');
    await sleep(500);
    expect(await s.deliveriesOf(after, id)).toEqual([]);
    expect(hits('/gone')).toHaveLength(s.recipients);

    const past = await api('get', `/api/v1/webhooks/deliveries?endpointId=${id}`, s.admin);
    expect(past.status).toBe(200);
    expect(past.body.items.map((d: { id: string }) => d.id).sort()).toEqual(delivered.map((d) => d.id).sort());
    expect(past.body.items.every((d: { status: string }) => d.status === 'delivered')).toBe(true);
    const one = await api('get', `/api/v1/webhooks/deliveries/${delivered[0].id}`, s.admin);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(expect.objectContaining({ id: delivered[0].id, endpointId: id, status: 'delivered' }));
  });

  it('DELETE also stops the retries still waiting: they fail as `endpoint deleted`, nothing more is sent', async () => {
    const id = await createEndpoint('/waiting');
    const taskId = await s.urgeNewTask('占道经营整治（等待重试）');
    // first attempt answered 503 with Retry-After: 1 s; the retry waits
    await s.settled(taskId, id, (d) => d.status === 'pending' && d.attempts === 1 && d.last_status_code === 503);
    expect((await api('delete', `/api/v1/webhooks/${id}`, s.admin)).status).toBe(204);
    const rows = await s.deliveriesOf(taskId, id);
    for (const d of rows)
      expect(d).toEqual(expect.objectContaining({ status: 'failed', last_error: 'endpoint deleted' }));
    await sleep(2000); // past the Retry-After: the delayed jobs run and send nothing
    expect(hits('/waiting')).toHaveLength(s.recipients);
    for (const d of await s.deliveriesOf(taskId, id))
      expect(d).toEqual(expect.objectContaining({ status: 'failed', attempts: 1, last_error: 'endpoint deleted' }));
  });

  it('a 400 from the receiver is permanent (one attempt); a 503 is retried up to WEBHOOK_MAX_ATTEMPTS', async () => {
    const bad = await createEndpoint('/bad-request');
    const unavailable = await createEndpoint('/unavailable');
    const taskId = await s.urgeNewTask('占道经营整治（重试策略）');
    const permanent = await s.settled(taskId, bad, (d) => d.status === 'failed');
    const retried = await s.settled(taskId, unavailable, (d) => d.status === 'failed');
    await sleep(400); // any retry of the 400s would have come by now (backoff 50 ms)
    for (const d of permanent) {
      expect(d).toEqual(expect.objectContaining({ attempts: 1, last_status_code: 400, last_error: 'HTTP 400' }));
      expect(hits('/bad-request', d.id)).toHaveLength(1);
    }
    for (const d of retried) {
      expect(d).toEqual(expect.objectContaining({ attempts: 3, last_status_code: 503, last_error: 'HTTP 503' }));
      expect(hits('/unavailable', d.id)).toHaveLength(3);
    }
    await api('delete', `/api/v1/webhooks/${bad}`, s.admin);
    await api('delete', `/api/v1/webhooks/${unavailable}`, s.admin);
  });

  it('a 429 is retried after its Retry-After, capped by WEBHOOK_RETRY_AFTER_MAX_MS (1.5 s here, asked 3600 s)', async () => {
    const id = await createEndpoint('/slow-down');
    const taskId = await s.urgeNewTask('占道经营整治（限流）');
    const rows = await s.settled(taskId, id, (d) => d.status === 'delivered');
    for (const d of rows) {
      expect(d).toEqual(expect.objectContaining({ attempts: 2, last_status_code: 200 }));
      const [first, second] = hits('/slow-down', d.id);
      const gap = second.at - first.at;
      expect(gap).toBeGreaterThanOrEqual(1400); // the plain backoff would have been 50 ms
      expect(gap).toBeLessThan(10_000);
    }
    await api('delete', `/api/v1/webhooks/${id}`, s.admin);
  });

  it('resend: a failed delivery goes out once more as the same delivery; a delivered one is refused with 409', async () => {
    const id = await createEndpoint('/resend');
    const taskId = await s.urgeNewTask('占道经营整治（重发）');
    const failed = await s.settled(taskId, id, (d) => d.status === 'failed' && d.attempts === 1);
    const [target, ...others] = failed;
    const [original] = hits('/resend', target.id);

    expect((await api('post', `/api/v1/webhooks/deliveries/${target.id}/resend`, s.dept)).status).toBe(403);
    expect((await api('post', `/api/v1/webhooks/deliveries/${newId()}/resend`, s.admin)).status).toBe(404);

    resendOk = true;
    const resent = await api('post', `/api/v1/webhooks/deliveries/${target.id}/resend`, s.admin);
    expect(resent.status).toBe(202);
    expect(resent.body).toEqual(expect.objectContaining({ id: target.id, status: 'pending', attempts: 1, resends: 1 }));
    const twice = await api('post', `/api/v1/webhooks/deliveries/${target.id}/resend`, s.admin);
    expect([409]).toContain(twice.status); // queued or already delivered: never a second resend in flight
    expect(['WEBHOOK_DELIVERY_IN_PROGRESS', 'WEBHOOK_DELIVERY_ALREADY_DELIVERED']).toContain(twice.body.code);

    await waitFor(async () => {
      const d = await api('get', `/api/v1/webhooks/deliveries/${target.id}`, s.admin);
      return d.body.status === 'delivered' ? d : null;
    });
    await sleep(500);
    const seen = hits('/resend', target.id);
    expect(seen).toHaveLength(2); // the original attempt and exactly one more
    const [, again] = seen;
    expect(again.body).toBe(original.body); // byte for byte: same deliveryId, same notification
    expect(again.headers['x-gridflow-delivery']).toBe(target.id);
    const payload = JSON.parse(again.body);
    expect(payload.deliveryId).toBe(target.id);
    expect(payload.notification.id).toBe(JSON.parse(original.body).notification.id);
    expect(again.headers['x-gridflow-signature']).toBe(sign(SECRET, again.body));

    const view = await api('get', `/api/v1/webhooks/deliveries/${target.id}`, s.admin);
    expect(view.body).toEqual(
      expect.objectContaining({ status: 'delivered', attempts: 2, resends: 1, lastStatusCode: 200 }),
    );
    expect(view.body.resentAt).not.toBeNull();

    const refused = await api('post', `/api/v1/webhooks/deliveries/${target.id}/resend`, s.admin);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('WEBHOOK_DELIVERY_ALREADY_DELIVERED');
    await sleep(300);
    expect(hits('/resend', target.id)).toHaveLength(2);
    for (const d of others) expect(hits('/resend', d.id)).toHaveLength(1); // not resent, not sent again

    expect(others.length).toBeGreaterThan(0);
    await api('patch', `/api/v1/webhooks/${id}`, s.admin, { enabled: false });
    const inactive = await api('post', `/api/v1/webhooks/deliveries/${others[0].id}/resend`, s.admin);
    expect(inactive.status).toBe(409);
    expect(inactive.body.code).toBe('WEBHOOK_ENDPOINT_INACTIVE');
    await api('delete', `/api/v1/webhooks/${id}`, s.admin);
  });

  it('signing secrets are stored encrypted; deliveries are still signed with the plaintext, also after rotation', async () => {
    const id = await createEndpoint('/signed');
    const [row] = (await s.t.ds.query('SELECT secret_ciphertext FROM webhook_endpoints WHERE id = ?', [id])) as {
      secret_ciphertext: string;
    }[];
    expect(row.secret_ciphertext).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(row.secret_ciphertext).not.toContain(SECRET);
    expect(Buffer.from(row.secret_ciphertext.slice(3), 'base64url').toString('latin1')).not.toContain(SECRET);
    const columns = (await s.t.ds.query(
      "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'webhook_endpoints'",
    )) as { name: string }[];
    expect(columns.map((c) => c.name)).not.toContain('secret'); // no plaintext column left

    const first = await s.urgeNewTask('占道经营整治（签名）');
    const rows = await s.settled(first, id, (d) => d.status === 'delivered');
    for (const d of rows) {
      const [hit] = hits('/signed', d.id);
      expect(hit.headers['x-gridflow-signature']).toBe(sign(SECRET, hit.body));
    }

    const rotated = `${SECRET}-rotated`;
    expect((await api('patch', `/api/v1/webhooks/${id}`, s.admin, { secret: rotated })).status).toBe(200);
    const second = await s.urgeNewTask('占道经营整治（换密钥）');
    for (const d of await s.settled(second, id, (x) => x.status === 'delivered')) {
      const [hit] = hits('/signed', d.id);
      expect(hit.headers['x-gridflow-signature']).toBe(sign(rotated, hit.body));
    }
    await api('delete', `/api/v1/webhooks/${id}`, s.admin);
  });

  it('no webhook API response carries a secret', () => {
    expect(responses.length).toBeGreaterThan(20);
    for (const body of responses) {
      expect(JSON.stringify(body)).not.toContain(SECRET);
      expect(JSON.stringify(body)).not.toMatch(/secret/i);
    }
  });
});

describe('webhooks: private targets are refused when WEBHOOK_ALLOW_PRIVATE_NETWORKS is off (e2e)', () => {
  const SECRET = 'whsec-e2e-ssrf-0123456789abcdef';
  let restoreEnv: () => void;
  let s: Awaited<ReturnType<typeof startStack>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    restoreEnv = withEnv({
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false',
      WEBHOOK_BACKOFF_MS: '50',
      WEBHOOK_MAX_ATTEMPTS: '3',
    });
    receiver = await startReceiver(() => ({ status: 200 }));
    s = await startStack();
  });

  afterAll(async () => {
    await s.close();
    await new Promise((r) => receiver.server.close(r));
    restoreEnv();
  });

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:8080/hook'],
    ['IPv4 loopback, other address', 'http://127.8.9.10/hook'],
    ['IPv4 loopback as a number', 'http://2130706433/hook'],
    ['IPv6 loopback', 'http://[::1]:8080/hook'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['a name resolving to 127.0.0.1', 'http://localhost:8080/hook'],
    ['RFC 1918 10/8', 'https://10.1.2.3/hook'],
    ['RFC 1918 172.16/12', 'https://172.20.0.5/hook'],
    ['RFC 1918 192.168/16', 'https://192.168.1.20/hook'],
    ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 link-local', 'http://[fe80::1]/hook'],
    ['IPv6 unique local', 'http://[fd00::1]/hook'],
    ['unspecified', 'http://0.0.0.0:8080/hook'],
    ['IPv6 unspecified', 'http://[::]/hook'],
    ['a non-http scheme', 'ftp://hooks.example.gov.cn/hook'],
    ['a file URL', 'file:///etc/passwd'],
  ])('registration refuses %s with 422 WEBHOOK_URL_FORBIDDEN', async (_kind, url) => {
    const res = await s.t
      .http()
      .post('/api/v1/webhooks')
      .set(s.admin.auth)
      .send({ url, secret: SECRET, events: ['task.urged'] });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('WEBHOOK_URL_FORBIDDEN');
    expect(res.body.details).toEqual([{ field: 'url', errors: [expect.any(String)] }]);
  });

  it('says which address a name resolved to', async () => {
    const res = await s.t
      .http()
      .post('/api/v1/webhooks')
      .set(s.admin.auth)
      .send({ url: `http://localhost:${receiver.port}/hook`, secret: SECRET, events: ['task.urged'] });
    expect(res.status).toBe(422);
    expect(res.body.details[0].errors[0]).toMatch(/loopback address \(localhost resolves to it\)/);
  });

  it('an update to a private URL is refused too, and the endpoint keeps its URL', async () => {
    const created = await s.t
      .http()
      .post('/api/v1/webhooks')
      .set(s.admin.auth)
      .send({ url: 'https://203.0.113.10/hook', secret: SECRET, events: ['never.sent'] });
    expect(created.status).toBe(201);
    const patched = await s.t
      .http()
      .patch(`/api/v1/webhooks/${created.body.id}`)
      .set(s.admin.auth)
      .send({ url: receiver.url('/hook') });
    expect(patched.status).toBe(422);
    expect(patched.body.code).toBe('WEBHOOK_URL_FORBIDDEN');
    const got = await s.t.http().get(`/api/v1/webhooks/${created.body.id}`).set(s.admin.auth);
    expect(got.body.url).toBe('https://203.0.113.10/hook');
    expect((await s.t.http().delete(`/api/v1/webhooks/${created.body.id}`).set(s.admin.auth)).status).toBe(204);
  });

  it('at send time, a target that is or now resolves to a private address is refused: a permanent, recorded failure', async () => {
    // endpoints registered while private targets were allowed, or whose name was re-pointed since (DNS rebinding)
    const key = webhookSecretKey(validateEnv(process.env));
    const endpoints = {
      name: { id: newId(), url: `http://localhost:${receiver.port}/rebound` },
      literal: { id: newId(), url: receiver.url('/literal') },
    };
    for (const e of Object.values(endpoints))
      await s.t.ds.query(
        "INSERT INTO webhook_endpoints (id, url, secret_ciphertext, events, enabled, created_by) VALUES (?, ?, ?, 'task.urged', 1, ?)",
        [e.id, e.url, sealWebhookSecret(key, e.id, SECRET), s.admin.user.id],
      );
    const taskId = await s.urgeNewTask('占道经营整治（内网）');
    for (const e of Object.values(endpoints)) {
      const rows = await s.settled(taskId, e.id, (d) => d.status === 'failed');
      for (const d of rows) {
        expect(d).toEqual(expect.objectContaining({ attempts: 1, last_status_code: null }));
        expect(d.last_error).toMatch(/^target refused: (127\.0\.0\.1|::1) is a loopback address/);
      }
    }
    await sleep(400); // no retry follows
    for (const e of Object.values(endpoints))
      for (const d of await s.deliveriesOf(taskId, e.id)) expect(d.attempts).toBe(1);
    expect(receiver.received).toEqual([]);
    expect(
      (await s.deliveriesOf(taskId, endpoints.name.id)).every((d) =>
        d.last_error?.includes('localhost resolves to it'),
      ),
    ).toBe(true);
    for (const e of Object.values(endpoints))
      expect((await s.t.http().delete(`/api/v1/webhooks/${e.id}`).set(s.admin.auth)).status).toBe(204);
  });
});

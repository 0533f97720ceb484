import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AppModule } from '../../apps/api/src/app.module.js';
import { configureApp } from '../../apps/api/src/configure-app.js';

export interface TestApp {
  app: NestExpressApplication;
  ds: DataSource;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** The production AppModule, in process, configured exactly as main.ts does it. */
export async function createTestApp(): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: ['error'] });
  configureApp(app);
  await app.init();
  const server = app.getHttpServer();
  return {
    app,
    ds: app.get<DataSource>(getDataSourceToken()),
    http: () => request(server),
    close: () => app.close(),
  };
}

export const DEMO_PASSWORD = () => process.env.DEMO_PASSWORD ?? 'Gridflow@2026';

export interface Session {
  token: string;
  refreshToken: string;
  user: { id: string; username: string; orgUnitId: string; roles: string[] };
  auth: { Authorization: string };
}

/** Logs a demo user in and returns its token and the header to send. */
export async function login(t: TestApp, username: string, password = DEMO_PASSWORD()): Promise<Session> {
  const res = await t.http().post('/api/v1/auth/login').send({ username, password });
  if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    token: res.body.accessToken,
    refreshToken: res.body.refreshToken,
    user: res.body.user,
    auth: { Authorization: `Bearer ${res.body.accessToken}` },
  };
}

/** Looks up a seeded org unit id by its code. */
export async function unitId(t: TestApp, code: string): Promise<string> {
  const rows = (await t.ds.query('SELECT id FROM org_units WHERE code = ?', [code])) as { id: string }[];
  if (!rows[0]) throw new Error(`no org unit ${code}`);
  return rows[0].id;
}

/** Polls until check() returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 15000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

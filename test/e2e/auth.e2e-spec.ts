import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, generateKeyPairSync, sign as rsaSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createTestApp, DEMO_PASSWORD, login, type TestApp } from '../helpers/app.js';

const b64 = (v: object | string) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function hs256(payload: object, secret: string, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const unsigned = `${b64(header)}.${b64(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

describe('auth (e2e)', () => {
  let t: TestApp;
  const secret = () => process.env.JWT_SECRET as string;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('logs in a demo user and returns tokens and the public user shape', async () => {
    const res = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ username: 'xh-jd1-leader', password: DEMO_PASSWORD() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
      user: {
        id: expect.any(String),
        username: 'xh-jd1-leader',
        displayName: expect.any(String),
        orgUnitId: expect.any(String),
        roles: ['leader'],
        disabled: false,
      },
    });
    expect(JSON.stringify(res.body)).not.toMatch(/scrypt|passwordHash/);

    const me = await t.http().get('/api/v1/me').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.user);
  });

  it('refuses a wrong password and an unknown user with the same 401', async () => {
    const wrong = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ username: 'xh-jd2-leader', password: 'not-the-password' });
    const unknown = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ username: 'nobody-here', password: 'whatever-it-is' });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        statusCode: 401,
        code: 'INVALID_CREDENTIALS',
        message: 'Wrong username or password',
        correlationId: expect.any(String),
      });
    }
  });

  it('rotates refresh tokens and treats reuse of an old one as theft', async () => {
    const s = await login(t, 'xh-jd1-staff');
    const first = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: s.refreshToken });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(s.refreshToken);
    expect(first.body.user.username).toBe('xh-jd1-staff');

    const reuse = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: s.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('INVALID_REFRESH_TOKEN');

    // the whole family is revoked: the successor no longer works either
    const successor = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: first.body.refreshToken });
    expect(successor.status).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const s = await login(t, 'xh-jd2-staff');
    const out = await t.http().post('/api/v1/auth/logout').set(s.auth).send({ refreshToken: s.refreshToken });
    expect(out.status).toBe(204);
    const again = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: s.refreshToken });
    expect(again.status).toBe(401);
  });

  it('a refresh token is exactly <id>.<secret>: a token with more parts, or the secret under another id, is 401 and changes nothing', async () => {
    const s = await login(t, 'xh-jd2-leader');
    const [id, secret] = s.refreshToken.split('.');
    const other = (await login(t, 'xh-jd2-leader')).refreshToken.split('.')[0];
    for (const forged of [`${s.refreshToken}.x`, `${other}.${secret}`, `.${secret}`, `${id}.`, secret]) {
      const res = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: forged });
      expect({ forged, status: res.status, code: res.body.code }).toEqual({
        forged,
        status: 401,
        code: 'INVALID_REFRESH_TOKEN',
      });
      // logout with such a token revokes nothing either
      expect((await t.http().post('/api/v1/auth/logout').set(s.auth).send({ refreshToken: forged })).status).toBe(204);
    }
    const genuine = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: s.refreshToken });
    expect(genuine.status).toBe(200);
  });

  describe('forged and broken access tokens are 401', () => {
    let userId: string;
    beforeAll(async () => {
      userId = (await login(t, 'xh-jd1-sq1-leader')).user.id;
    });

    const cases: Array<[string, () => string]> = [
      [
        'alg none',
        () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: userId, typ: 'access', exp: now() + 600 })}.`,
      ],
      [
        'bad signature',
        () => hs256({ sub: userId, typ: 'access', exp: now() + 600 }, 'a-different-secret-of-enough-length!!'),
      ],
      ['expired', () => hs256({ sub: userId, typ: 'access', iat: now() - 1200, exp: now() - 600 }, secret())],
      ['no exp', () => hs256({ sub: userId, typ: 'access', iat: now() }, secret())],
      ['not an access token', () => hs256({ sub: userId, typ: 'refresh', exp: now() + 600 }, secret())],
      [
        'RS256 instead of the pinned HS256',
        () => {
          const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ sub: userId, typ: 'access', exp: now() + 600 })}`;
          return `${unsigned}.${rsaSign('sha256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
        },
      ],
      [
        'HS512 with the right secret',
        () => {
          const unsigned = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64({ sub: userId, typ: 'access', exp: now() + 600 })}`;
          return `${unsigned}.${createHmac('sha512', secret()).update(unsigned).digest('base64url')}`;
        },
      ],
      ['garbage', () => 'not.a.jwt'],
    ];

    it.each(cases)('%s', async (_name, make) => {
      const res = await t.http().get('/api/v1/me').set('Authorization', `Bearer ${make()}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
      expect(res.body.correlationId).toEqual(expect.any(String));
    });

    it('a well-formed token with the right secret is accepted (the cases above fail for their flaw alone)', async () => {
      const res = await t
        .http()
        .get('/api/v1/me')
        .set('Authorization', `Bearer ${hs256({ sub: userId, typ: 'access', exp: now() + 600 }, secret())}`);
      expect(res.status).toBe(200);
    });

    it('no token at all', async () => {
      const res = await t.http().get('/api/v1/me');
      expect(res.status).toBe(401);
    });
  });

  it('refuses a disabled user at once, even with a live access token', async () => {
    const admin = await login(t, 'admin');
    const created = await t
      .http()
      .post('/api/v1/users')
      .set(admin.auth)
      .send({
        username: 'temp-disable-me',
        displayName: '临时用户',
        orgUnitId: admin.user.orgUnitId,
        roles: ['staff'],
        password: 'a-long-password-1',
      });
    expect(created.status).toBe(201);
    const victim = await login(t, 'temp-disable-me', 'a-long-password-1');
    expect((await t.http().get('/api/v1/me').set(victim.auth)).status).toBe(200);

    const disabled = await t.http().patch(`/api/v1/users/${created.body.id}`).set(admin.auth).send({ disabled: true });
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabled).toBe(true);

    const me = await t.http().get('/api/v1/me').set(victim.auth);
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('USER_DISABLED');
    expect((await t.http().post('/api/v1/auth/refresh').send({ refreshToken: victim.refreshToken })).status).toBe(401);
    const relogin = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ username: 'temp-disable-me', password: 'a-long-password-1' });
    expect(relogin.status).toBe(401);
  });

  it('rate limits failed logins per address and username with 429, even for the right password', async () => {
    const admin = await login(t, 'admin');
    const probe = await t
      .http()
      .post('/api/v1/users')
      .set(admin.auth)
      .send({
        username: 'rate-limit-probe',
        displayName: '限流测试',
        orgUnitId: admin.user.orgUnitId,
        roles: ['staff'],
        password: 'probe-password-1',
      });
    expect(probe.status).toBe(201);
    const max = Number(process.env.LOGIN_MAX_FAILURES);
    for (let i = 0; i < max; i++) {
      const res = await t
        .http()
        .post('/api/v1/auth/login')
        .send({ username: 'rate-limit-probe', password: `wrong-${i}-password` });
      expect(res.status).toBe(401);
    }
    const blocked = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ username: 'rate-limit-probe', password: 'probe-password-1' });
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('RATE_LIMITED');
    expect(blocked.body.details.retryAfterSeconds).toBeGreaterThan(0);
    // another user from the same address is not affected
    expect(
      (await t.http().post('/api/v1/auth/login').send({ username: 'xh-jd2-sq2-staff', password: DEMO_PASSWORD() }))
        .status,
    ).toBe(200);
  });
});

describe('demo district logins (e2e)', () => {
  it('every seeded demo user can log in with the demo password', async () => {
    const t = await createTestApp();
    try {
      const { users } = JSON.parse(readFileSync('config/seed/users.json', 'utf8')) as {
        users: { username: string; roles: string[] }[];
      };
      expect(users.length).toBeGreaterThanOrEqual(61);
      for (const u of users) {
        const s = await login(t, u.username);
        expect(s.user.roles).toEqual(u.roles);
      }
    } finally {
      await t.close();
    }
  });
});

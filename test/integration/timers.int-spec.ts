import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { newId, type Principal } from '@gridflow/common';
import { appendEvent, CalendarService, type ChainHead, TaskShell, TimerFiringService } from '@gridflow/domain';
import {
  createRedis,
  QueueName,
  TIMER_JOB_GRACE_MS,
  TIMER_WAKE_SLOT_MS,
  timerJobId,
  timerWakeJobId,
} from '@gridflow/queue';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { TimerSweeper } from '../../apps/worker/src/timers/timer-sweeper.service.js';
import { createTestApp, login, unitId, waitFor, type Session, type TestApp } from '../helpers/app.js';
import { headsOffTheTail } from '../helpers/invariants.js';

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
const inDays = (d: number) => inSeconds(d * 86400);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A workflow whose clock runs in seconds: remind after 1 s, then the three rungs of the ladder at 2, 3 and 4 s. */
const FAST = {
  key: 'timer-fast',
  name: '计时测试流程',
  states: [
    { id: 'in_progress', label: '办理中', initial: true },
    { id: 'submitted', label: '待验收' },
    { id: 'closed', label: '已办结', final: true },
    { id: 'cancelled', label: '已取消', final: true },
  ],
  actions: [
    { id: 'submit', from: ['in_progress'], to: 'submitted', actors: [{ role: 'leader', relation: 'assignee' }] },
    { id: 'approve', from: ['submitted'], to: 'closed', actors: [{ role: 'leader', relation: 'owner' }] },
    // only the engine takes it: the acceptance deemed given when the owner stays silent
    {
      id: 'auto-approve',
      from: ['submitted'],
      to: 'closed',
      actors: [],
      effects: [{ name: 'notify', params: { to: 'assignee', template: 'task.closed' } }],
    },
    {
      id: 'cancel',
      from: ['in_progress', 'submitted'],
      to: 'cancelled',
      actors: [{ role: 'leader', relation: 'owner' }],
    },
    {
      id: 'urge',
      from: ['in_progress'],
      actors: [
        { role: 'leader', relation: 'owner' },
        { role: 'leader', relation: 'ownerSuperior' },
      ],
      effects: [{ name: 'notify', params: { to: 'assignee', template: 'task.urged' } }],
    },
  ],
  timers: [
    { id: 'remind', state: 'in_progress', after: 'PT1S', do: { kind: 'remind', template: 'task.due_soon' } },
    { id: 'rung-1', state: 'in_progress', after: 'PT2S', do: { kind: 'escalate', level: 1 } },
    { id: 'rung-2', state: 'in_progress', after: 'PT3S', do: { kind: 'escalate', level: 2 } },
    { id: 'rung-3', state: 'in_progress', after: 'PT4S', do: { kind: 'escalate', level: 3 } },
    { id: 'auto-approve', state: 'submitted', after: 'PT1S', do: { kind: 'action', action: 'auto-approve' } },
  ],
};

interface TimerRow {
  id: string;
  timer_id: string;
  status: string;
  due_at: Date;
  fired_at: Date | null;
  do_action: string;
}
interface NotificationRow {
  user_id: string;
  template: string;
  created_at: Date;
  dedup_key: string;
}

describe('durable timers, escalation ladder, extensions and the sweeper (integration, real MariaDB and Redis)', () => {
  const basePrefix = process.env.REDIS_PREFIX;
  const prefix = `${basePrefix ?? 'gftest'}-tmr`;
  let t: TestApp;
  let worker: INestApplicationContext;
  let redis: Redis;
  let admin: Session;
  let dept: Session;
  let community: Session;

  const q = async <T>(sql: string, params: unknown[] = []) => (await t.ds.query(sql, params)) as T[];
  /** The handoff workflow's in_progress timers for a due time: the working-day reminder only while it lies ahead. */
  const inProgressTimers = async (dueAt: string) => {
    const dayBefore = await worker.get(CalendarService).addWorkingDays(new Date(dueAt), -1);
    return {
      ids: [
        'progress-reminder',
        ...(dayBefore.getTime() > Date.now() ? ['due-in-one-working-day'] : []),
        'deadline-escalation',
      ].sort(),
      dayBefore,
    };
  };
  const timersOf = (taskId: string) =>
    q<TimerRow>(
      'SELECT id, timer_id, status, due_at, fired_at, do_action FROM task_timers WHERE task_id = ? ORDER BY due_at, id',
      [taskId],
    );
  const notificationsOf = (taskId: string, template?: string) =>
    q<NotificationRow>(
      `SELECT user_id, template, created_at, dedup_key FROM notifications WHERE task_id = ? ${template ? 'AND template = ?' : ''} ORDER BY created_at`,
      template ? [taskId, template] : [taskId],
    );
  const leadersOf = async (code: string) =>
    (
      await q<{ id: string }>(
        "SELECT id FROM users WHERE org_unit_id = ? AND roles LIKE '%leader%' AND disabled = 0 ORDER BY id",
        [await unitId(t, code)],
      )
    ).map((r) => r.id);
  const recipientsOf = async (code: string) =>
    (
      await q<{ id: string; roles: string }>(
        'SELECT id, roles FROM users WHERE org_unit_id = ? AND disabled = 0 ORDER BY id',
        [await unitId(t, code)],
      )
    )
      .filter((u) => /leader|staff|grid_worker/.test(u.roles))
      .map((u) => u.id);
  const startWorker = async () => {
    const w = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
    await w.init();
    return w;
  };
  const createTask = async (who: Session, categoryCode: string, dueAt: string, title = '计时任务') => {
    const res = await t.http().post('/api/v1/tasks').set(who.auth).send({ title, categoryCode, dueAt });
    if (res.status !== 201) throw new Error(`create task: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; dueAt: string };
  };
  const act = (who: Session, taskId: string, action: string, body: Record<string, unknown> = {}) =>
    t.http().post(`/api/v1/tasks/${taskId}/actions/${action}`).set(who.auth).send(body);
  /** The task's detail once it reads closed (within 10 s). */
  const untilClosed = (taskId: string) =>
    waitFor(
      async () => {
        const d = await t.http().get(`/api/v1/tasks/${taskId}`).set(community.auth);
        return d.body.state === 'closed' ? d.body : null;
      },
      10000,
      100,
    );
  /** Simulates Redis losing everything this run put there (FLUSHALL, but only for our own keys: the server is shared). */
  const loseRedis = async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    return keys.length;
  };

  beforeAll(async () => {
    process.env.REDIS_PREFIX = prefix;
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'producer');
    t = await createTestApp();
    worker = await startWorker();
    admin = await login(t, 'admin');
    dept = await login(t, 'xh-cgj-leader');
    community = await login(t, 'xh-jd1-sq1-leader');
    expect((await t.http().post('/api/v1/workflows').set(admin.auth).send({ definition: FAST })).status).toBe(201);
    expect((await t.http().post(`/api/v1/workflows/${FAST.key}/publish`).set(admin.auth)).status).toBe(201);
    const cat = await t.http().post('/api/v1/catalog/categories').set(admin.auth).send({
      code: 'TIMER_FAST',
      name: '计时测试事项',
      ownerOrgUnitId: dept.user.orgUnitId,
      requiredPowerCodes: [],
      onCommunityAccessList: true,
      workflowKey: FAST.key,
    });
    expect(cat.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await loseRedis().catch(() => undefined);
    redis?.disconnect();
    process.env.REDIS_PREFIX = basePrefix;
  }, 60_000);

  it('a reminder fires at its due time, not before, once, to the assignee unit', async () => {
    const task = await createTask(community, 'TIMER_FAST', inDays(3));
    const remind = (await timersOf(task.id)).find((r) => r.timer_id === 'remind') as TimerRow;
    expect(remind.status).toBe('pending');
    // written in the creating transaction, with its outbox row for the delayed job
    expect(
      await q('SELECT id FROM outbox WHERE aggregate_id = ? AND job_name = ?', [task.id, 'fire-timer']),
    ).toHaveLength(4);
    expect(await notificationsOf(task.id, 'task.due_soon')).toHaveLength(0);

    const notes = await waitFor(
      async () => {
        const n = await notificationsOf(task.id, 'task.due_soon');
        return n.length ? n : null;
      },
      10000,
      50,
    );
    const fired = (await timersOf(task.id)).find((r) => r.id === remind.id) as TimerRow;
    expect(fired.status).toBe('fired');
    const due = new Date(remind.due_at).getTime();
    const firedAt = new Date(fired.fired_at as Date).getTime();
    expect(firedAt).toBeGreaterThanOrEqual(due);
    expect(firedAt - due).toBeLessThan(1500);
    for (const n of notes) expect(new Date(n.created_at).getTime()).toBeGreaterThanOrEqual(due);
    expect(notes.map((n) => n.user_id).sort()).toEqual((await recipientsOf('xh-jd1-sq1')).sort());
    expect(notes.every((n) => n.dedup_key === `timer-${remind.id}-${n.user_id}`)).toBe(true);
    // a duplicate delivery of the same timer changes nothing
    expect(await worker.get(TimerFiringService).fire(remind.id)).toEqual({ kind: 'not-pending', status: 'fired' });
    expect(await notificationsOf(task.id, 'task.due_soon')).toHaveLength(notes.length);
  }, 60_000);

  it('the escalation ladder reaches the assignee’s leader, then the owner’s superior, then the district', async () => {
    const task = await createTask(community, 'TIMER_FAST', inDays(3), '背街小巷环境整治');
    await waitFor(async () => (await timersOf(task.id)).every((r) => r.status === 'fired'), 15000, 100);

    const urge = await notificationsOf(task.id, 'task.escalation_urge');
    const supervise = await notificationsOf(task.id, 'task.escalation_supervision');
    const listed = await notificationsOf(task.id, 'task.escalation_listed');
    expect(urge.map((n) => n.user_id)).toEqual(await leadersOf('xh-jd1-sq1'));
    expect(supervise.map((n) => n.user_id)).toEqual(await leadersOf('xh-jd1'));
    expect(listed.map((n) => n.user_id)).toEqual(await leadersOf('xh'));
    expect(urge.length && supervise.length && listed.length).toBeTruthy();

    const entries = await q<{ level: number; supervisor_org_unit_id: string; resolved_at: Date | null }>(
      'SELECT level, supervisor_org_unit_id, resolved_at FROM supervision_entries WHERE task_id = ? ORDER BY level',
      [task.id],
    );
    expect(entries.map((e) => [Number(e.level), e.supervisor_org_unit_id])).toEqual([
      [2, await unitId(t, 'xh-jd1')],
      [3, await unitId(t, 'xh')],
    ]);
    // the workflow had its own higher rungs pending, so the ladder did not add any
    expect(await timersOf(task.id)).toHaveLength(4);

    const detail = await t.http().get(`/api/v1/tasks/${task.id}`).set(community.auth);
    expect(detail.body).toMatchObject({ escalationLevel: 3, overdue: false, overdueBy: 0, version: 1 });
    const events = await t.http().get(`/api/v1/tasks/${task.id}/events`).set(community.auth);
    expect(
      events.body.items
        .filter((e: { action: string }) => e.action === 'escalate')
        .map((e: { payload: { level: number } }) => e.payload.level),
    ).toEqual([1, 2, 3]);
    expect((await t.http().get(`/api/v1/tasks/${task.id}/events/verify`).set(community.auth)).body).toMatchObject({
      valid: true,
    });
    // each escalation moved the task row's chain head with its event
    expect(await headsOffTheTail(t, [task.id])).toEqual([]);

    // listed supervision is visible to the district; another street sees nothing of it
    const district = await login(t, 'xh-leader');
    const seen = await t.http().get('/api/v1/supervision?level=3&open=true').set(district.auth);
    expect(seen.status).toBe(200);
    expect(seen.body.items.filter((i: { taskId: string }) => i.taskId === task.id)).toHaveLength(1);
    const other = await login(t, 'xh-jd2-leader');
    const hidden = await t.http().get('/api/v1/supervision').set(other.auth);
    expect(hidden.body.items.filter((i: { taskId: string }) => i.taskId === task.id)).toHaveLength(0);

    // closing the task resolves its entries at the next sweep
    expect((await act(community, task.id, 'cancel')).status).toBe(200);
    await worker.get(TimerSweeper).sweepOnce();
    const resolved = await q<{ n: number }>(
      'SELECT COUNT(*) AS n FROM supervision_entries WHERE task_id = ? AND resolved_at IS NOT NULL',
      [task.id],
    );
    expect(Number(resolved[0].n)).toBe(2);
  }, 60_000);

  it('acting on a task cancels the timers of the state it left; an action timer acts as the system', async () => {
    const task = await createTask(community, 'TIMER_FAST', inDays(3));
    expect((await act(community, task.id, 'submit')).status).toBe(200);
    const rows = await timersOf(task.id);
    expect(
      rows.filter((r) => ['remind', 'rung-1', 'rung-2', 'rung-3'].includes(r.timer_id)).map((r) => r.status),
    ).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    // the silent owner: the auto-approve timer closes the task one second later, as the system
    const closed = await untilClosed(task.id);
    expect(closed.closedAt).toEqual(expect.any(String));
    const events = (await t.http().get(`/api/v1/tasks/${task.id}/events`).set(community.auth)).body.items as {
      action: string;
      actorUserId: string | null;
    }[];
    expect(events.map((e) => e.action)).toEqual(['create', 'submit', 'auto-approve']);
    expect(events[2].actorUserId).toBeNull();
    // past every cancelled timer's due time: nothing fired, nobody reminded or escalated
    const lastDue = Math.max(...rows.map((r) => new Date(r.due_at).getTime()));
    await sleep(Math.max(0, lastDue + 1000 - Date.now()));
    const after = await timersOf(task.id);
    expect(after.filter((r) => r.status === 'fired').map((r) => r.timer_id)).toEqual(['auto-approve']);
    expect((await notificationsOf(task.id)).filter((n) => n.template !== 'task.closed')).toHaveLength(0);
    // a cancelled timer delivered late is a no-op
    expect(await worker.get(TimerFiringService).fire(rows[0].id)).toEqual({ kind: 'not-pending', status: 'cancelled' });
  }, 60_000);

  it('acceptance timeout: a handoff not accepted is reminded, then escalated to the assignee’s leaders two working days later', async () => {
    const parent = await t
      .http()
      .post('/api/v1/tasks')
      .set(community.auth)
      .send({
        title: '网格保洁（待接收）',
        categoryCode: 'SANITATION_GRID_CLEANING',
        dueAt: inDays(20),
        fundingFen: 200,
      });
    expect(parent.status).toBe(201);
    const grid = await unitId(t, 'xh-jd1-sq1-wg1');
    const handedAt = Date.now();
    const res = await t
      .http()
      .post(`/api/v1/tasks/${parent.body.id}/handoffs`)
      .set(community.auth)
      .send({ handoffs: [{ assigneeOrgUnitId: grid, dueAt: inDays(10), fundingFen: 100, grants: [] }] });
    expect(res.status).toBe(201);
    const child = res.body.items[0] as { id: string; state: string };
    expect(child.state).toBe('pending_acceptance');

    // the clock a user sees: a reminder after 24 hours, the escalation two working days after the handoff
    const clock = await t.http().get(`/api/v1/tasks/${child.id}/timers`).set(community.auth);
    expect(clock.status).toBe(200);
    const items = clock.body.items as {
      id: string;
      timerId: string;
      kind: string;
      level?: number;
      dueAt: string;
      status: string;
    }[];
    expect(items.map((i) => [i.timerId, i.kind, i.level, i.status])).toEqual([
      ['acceptance-reminder', 'remind', undefined, 'pending'],
      ['acceptance-escalation', 'escalate', 1, 'pending'],
    ]);
    const twoWorkingDays = await worker.get(CalendarService).addWorkingDays(new Date(handedAt), 2);
    const escalation = items[1];
    expect(Math.abs(Date.parse(escalation.dueAt) - twoWorkingDays.getTime())).toBeLessThan(5_000);
    // another street's leader cannot read this task's clock
    const other = await login(t, 'xh-jd2-leader');
    expect((await t.http().get(`/api/v1/tasks/${child.id}/timers`).set(other.auth)).status).toBe(404);

    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    await waitFor(() => queue.getJob(timerJobId(escalation.id)), 5000, 50);
    // time passes: the escalation is due, the sweeper promotes it; a grid has no leader of its own, so its
    // community's leaders are urged
    await q('UPDATE task_timers SET due_at = NOW(3) - INTERVAL 10 SECOND WHERE id = ?', [escalation.id]);
    await worker.get(TimerSweeper).sweepOnce();
    const urged = await waitFor(
      async () => {
        const n = await notificationsOf(child.id, 'task.escalation_urge');
        return n.length ? n : null;
      },
      10000,
      100,
    );
    expect(await leadersOf('xh-jd1-sq1-wg1')).toEqual([]);
    expect(urged.map((n) => n.user_id)).toEqual(await leadersOf('xh-jd1-sq1'));
    expect((await t.http().get(`/api/v1/tasks/${child.id}`).set(community.auth)).body.escalationLevel).toBe(1);

    // accepting stops the acceptance clock: the reminder and the ladder's next rung are cancelled
    const gridWorker = await login(t, 'xh-jd1-sq1-wg1-worker');
    expect((await act(gridWorker, child.id, 'accept')).status).toBe(200);
    const after = (await t.http().get(`/api/v1/tasks/${child.id}/timers`).set(community.auth)).body
      .items as typeof items;
    expect(after.filter((i) => i.timerId.startsWith('acceptance-') && i.status === 'pending')).toEqual([]);
    expect(
      after
        .filter((i) => i.status === 'pending')
        .map((i) => i.timerId)
        .sort(),
    ).toEqual((await inProgressTimers(inDays(10))).ids);
  }, 60_000);

  it('a category’s timer policy: refused when it does not fit, then applied to the category’s new tasks', async () => {
    const patch = (body: Record<string, unknown>) =>
      t.http().patch('/api/v1/catalog/categories/STREET_VENDOR_RECTIFICATION').set(admin.auth).send(body);
    const bad = await patch({
      timerPolicy: {
        off: ['no-such-timer'],
      },
    });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({
      code: 'TIMER_POLICY_INVALID',
      details: { errors: [{ path: '/timerPolicy/off/0', code: 'TIMER_POLICY_UNKNOWN_TIMER' }] },
    });
    const badState = await patch({
      timerPolicy: { timers: [{ id: 'x', state: 'nowhere', after: 'PT1S', do: { kind: 'remind' } }] },
    });
    expect(badState.status).toBe(422);
    expect(badState.body.details.errors).toEqual([
      expect.objectContaining({ path: '/timerPolicy/timers/0/state', code: 'TIMER_UNKNOWN_STATE' }),
    ]);

    const policy = {
      off: ['progress-reminder'],
      timers: [
        { id: 'policy-urge', state: 'in_progress', after: 'PT1S', do: { kind: 'escalate', level: 1 } },
        {
          id: 'three-working-days-left',
          state: 'in_progress',
          workingDaysBeforeDeadline: 3,
          do: { kind: 'remind', to: 'assignee', template: 'task.due_soon' },
        },
      ],
    };
    const ok = await patch({ timerPolicy: policy });
    expect(ok.status).toBe(200);
    expect(ok.body.timerPolicy).toEqual(policy);
    try {
      const due = inDays(12);
      const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', due, '门前秩序整治（政策）');
      const clock = (await t.http().get(`/api/v1/tasks/${task.id}/timers`).set(dept.auth)).body.items as {
        timerId: string;
        dueAt: string;
      }[];
      expect(clock.map((i) => i.timerId).sort()).toEqual(
        ['deadline-escalation', 'due-in-one-working-day', 'policy-urge', 'three-working-days-left'].sort(),
      );
      const threeBefore = await worker.get(CalendarService).addWorkingDays(new Date(task.dueAt), -3);
      expect(clock.find((i) => i.timerId === 'three-working-days-left')?.dueAt).toBe(threeBefore.toISOString());
      // the policy's own escalation fires a second later: the department's leaders are urged
      const urged = await waitFor(
        async () => {
          const n = await notificationsOf(task.id, 'task.escalation_urge');
          return n.length ? n : null;
        },
        10000,
        100,
      );
      expect(urged.map((n) => n.user_id)).toEqual(await leadersOf('xh-cgj'));
    } finally {
      const cleared = await patch({ timerPolicy: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.timerPolicy).toBeNull();
    }
    // without the policy, new tasks run the workflow's own timers
    const plain = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(12), '门前秩序整治');
    expect((await timersOf(plain.id)).map((r) => r.timer_id).sort()).toEqual((await inProgressTimers(plain.dueAt)).ids);
  }, 60_000);

  it('a timer whose task moved on is cancelled, not fired', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '门前三包检查');
    const remind = (await timersOf(task.id)).find((r) => r.timer_id === 'progress-reminder') as TimerRow;
    expect(remind).toMatchObject({ status: 'pending' });
    // the state changes behind the timer's back (no exit handling): the firing must notice
    await q("UPDATE tasks SET state = 'submitted' WHERE id = ?", [task.id]);
    const firing = worker.get(TimerFiringService);
    const late = new Date(Date.now() + 6 * 86400_000);
    expect(await firing.fire(remind.id, late)).toEqual({ kind: 'cancelled', reason: 'the task is in submitted' });
    expect(await firing.fire(remind.id, late)).toEqual({ kind: 'not-pending', status: 'cancelled' });
    // woken before its due time, a timer does nothing and says when to wake again
    const deadline = (await timersOf(task.id)).find((r) => r.timer_id === 'deadline-escalation') as TimerRow;
    expect(await firing.fire(deadline.id)).toEqual({ kind: 'not-due', dueAt: new Date(deadline.due_at) });
    await q("UPDATE tasks SET state = 'cancelled', is_open = 0 WHERE id = ?", [task.id]);
    expect(await notificationsOf(task.id, 'task.due_soon')).toHaveLength(0);
  }, 60_000);

  it('a reminder does not wait for an action in flight on its task, and an action that left the state first wins', async () => {
    const firing = worker.get(TimerFiringService);
    const late = new Date(Date.now() + 6 * 86400_000);
    /** Settles with the firing's outcome, or 'still waiting' after `ms`. */
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => 'still waiting' as const)]);

    // an action in flight holds the task's row lock and has not reached the timers yet
    const a = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '沿街晾晒整治');
    const rowsA = await timersOf(a.id);
    const remindA = rowsA.find((r) => r.timer_id === 'progress-reminder') as TimerRow;
    const escalateA = rowsA.find((r) => r.timer_id === 'deadline-escalation') as TimerRow;
    const action = t.ds.createQueryRunner();
    await action.connect();
    try {
      await action.startTransaction();
      await action.query('SELECT id FROM tasks WHERE id = ? FOR UPDATE', [a.id]);
      // the reminder fires meanwhile: it writes nothing to the task
      expect(await within(firing.fire(remindA.id, late), 5000)).toEqual({
        kind: 'fired',
        timer: 'remind',
        notified: expect.any(Number),
      });
      expect((await notificationsOf(a.id, 'task.due_soon')).length).toBeGreaterThan(0);
      // an escalation writes to the task (its level, an event): it waits for the action
      const escalation = firing.fire(escalateA.id, late);
      expect(await within(escalation, 1500)).toBe('still waiting');
      // the action leaves the state: the reminder is already fired and stays so; the escalation is cancelled
      await action.query("UPDATE tasks SET state = 'submitted' WHERE id = ?", [a.id]);
      await action.query("UPDATE task_timers SET status = 'cancelled' WHERE id IN (?, ?) AND status = 'pending'", [
        remindA.id,
        escalateA.id,
      ]);
      await action.commitTransaction();
      expect(await escalation).toEqual({ kind: 'not-pending', status: 'cancelled' });
    } finally {
      if (action.isTransactionActive) await action.rollbackTransaction();
      await action.release();
    }
    expect(
      (await timersOf(a.id))
        .filter((r) => [remindA.id, escalateA.id].includes(r.id))
        .map((r) => [r.id, r.status])
        .sort(),
    ).toEqual(
      [
        [remindA.id, 'fired'],
        [escalateA.id, 'cancelled'],
      ].sort(),
    );

    // the action got to the reminder's row first: the firing waits for it, then finds the row cancelled
    const b = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '违规广告牌清理');
    const remindB = (await timersOf(b.id)).find((r) => r.timer_id === 'progress-reminder') as TimerRow;
    const second = t.ds.createQueryRunner();
    await second.connect();
    try {
      await second.startTransaction();
      await second.query('SELECT id FROM tasks WHERE id = ? FOR UPDATE', [b.id]);
      await second.query("UPDATE tasks SET state = 'submitted' WHERE id = ?", [b.id]);
      await second.query("UPDATE task_timers SET status = 'cancelled' WHERE id = ? AND status = 'pending'", [
        remindB.id,
      ]);
      const reminder = firing.fire(remindB.id, late);
      expect(await within(reminder, 1500)).toBe('still waiting');
      await second.commitTransaction();
      expect(await reminder).toEqual({ kind: 'not-pending', status: 'cancelled' });
    } finally {
      if (second.isTransactionActive) await second.rollbackTransaction();
      await second.release();
    }
    expect(await notificationsOf(b.id, 'task.due_soon')).toHaveLength(0);
    for (const id of [a.id, b.id]) await q("UPDATE tasks SET state = 'cancelled', is_open = 0 WHERE id = ?", [id]);
  }, 60_000);

  it('a timed action that waited for its task extends the event chain after what the writer before it committed, even when that writer left the task row’s head behind', async () => {
    const firing = worker.get(TimerFiringService);
    const task = await createTask(community, 'TIMER_FAST', inDays(3), '雨污管网排查');
    expect((await act(community, task.id, 'submit')).status).toBe(200);
    const auto = (await timersOf(task.id)).find(
      (r) => r.timer_id === 'auto-approve' && r.status === 'pending',
    ) as TimerRow;
    // another writer holds the task (as an action would) and appends an event to its chain before it commits; like a
    // release before the chain head, it does not move the head on the task row, so the timed action, which reads the
    // row only once the writer is done, finds a head one event behind
    const other = t.ds.createQueryRunner();
    await other.connect();
    let fired: Promise<unknown> | undefined;
    try {
      await other.startTransaction();
      await other.query('SELECT id FROM tasks WHERE id = ? FOR UPDATE', [task.id]);
      fired = firing.fire(auto.id, new Date(Date.now() + 60_000)).catch((e: unknown) => e);
      await sleep(300);
      const noHead: ChainHead = { lastEventSeq: null, lastEventHash: null };
      await appendEvent(
        other.manager,
        {
          taskId: task.id,
          action: 'escalate',
          fromState: 'submitted',
          toState: 'submitted',
          actorUserId: null,
          actorOrgUnitId: null,
          payload: { note: 'written while the timed action waited' },
          at: new Date(),
        },
        noHead,
      );
      await other.commitTransaction();
    } finally {
      if (other.isTransactionActive) await other.rollbackTransaction();
      await other.release();
    }
    // this call or the worker's own firing of the row closes the task; neither trips over the event written meanwhile
    const outcome = await fired;
    expect(outcome).not.toBeInstanceOf(Error);
    expect(['fired', 'not-pending']).toContain((outcome as { kind: string }).kind);
    const closed = await untilClosed(task.id);
    expect(closed.state).toBe('closed');
    const events = (await t.http().get(`/api/v1/tasks/${task.id}/events`).set(community.auth)).body.items as {
      action: string;
      seq: number;
    }[];
    expect(events.map((e) => [e.seq, e.action])).toEqual([
      [1, 'create'],
      [2, 'submit'],
      [3, 'escalate'],
      [4, 'auto-approve'],
    ]);
    expect((await t.http().get(`/api/v1/tasks/${task.id}/events/verify`).set(community.auth)).body).toMatchObject({
      valid: true,
    });
    expect(await headsOffTheTail(t, [task.id])).toEqual([]);
  }, 60_000);

  it('at the deadline the task is marked overdue, escalated, and the ladder climbs on by itself', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inSeconds(3), '占道经营整治（限期）');
    const before = await timersOf(task.id);
    expect(before.map((r) => r.timer_id)).toEqual(['progress-reminder', 'deadline-escalation']);
    const deadline = before[1];
    await waitFor(
      async () => ((await timersOf(task.id)).find((r) => r.id === deadline.id)?.status === 'fired' ? true : null),
      10000,
      100,
    );

    // 0.8 of the time: due soon, to the assignee unit; at the deadline: 催办 to its leader, and the definition's
    // explicit ownerSuperior (task.overdue) to the district
    expect((await notificationsOf(task.id, 'task.due_soon')).map((n) => n.user_id).sort()).toEqual(
      (await recipientsOf('xh-cgj')).sort(),
    );
    expect((await notificationsOf(task.id, 'task.escalation_urge')).map((n) => n.user_id)).toEqual(
      await leadersOf('xh-cgj'),
    );
    expect((await notificationsOf(task.id, 'task.overdue')).map((n) => n.user_id).sort()).toEqual(
      (await recipientsOf('xh')).sort(),
    );

    const detail = (await t.http().get(`/api/v1/tasks/${task.id}`).set(dept.auth)).body;
    expect(detail).toMatchObject({ overdue: true, escalationLevel: 1, overdueSince: task.dueAt });
    expect(detail.overdueBy).toBeGreaterThanOrEqual(0);
    const list = await t.http().get('/api/v1/tasks?view=inbox&overdue=true').set(dept.auth);
    expect(list.body.items.map((i: { id: string }) => i.id)).toContain(task.id);

    // the next rung: level 2 one working day later, same timer id and state, with its delayed job
    const next = (await timersOf(task.id)).filter((r) => r.status === 'pending');
    expect(next).toHaveLength(1);
    expect(next[0]).toMatchObject({ timer_id: 'deadline-escalation' });
    expect(JSON.parse(next[0].do_action)).toMatchObject({ kind: 'escalate', level: 2 });
    expect(new Date(next[0].due_at).getTime() - Date.now()).toBeGreaterThan(20 * 3600_000);
    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    const job = await waitFor(() => queue.getJob(timerJobId(next[0].id)), 5000, 50);
    expect(await job.getState()).toBe('delayed');

    // time passes (the row is due): the sweep finds it late with its job still delayed, and promotes it
    await q('UPDATE task_timers SET due_at = NOW(3) - INTERVAL 10 SECOND WHERE id = ?', [next[0].id]);
    const report = await worker.get(TimerSweeper).sweepOnce();
    expect(report.timersPromoted).toBeGreaterThanOrEqual(1);
    await waitFor(
      async () => ((await timersOf(task.id)).find((r) => r.id === next[0].id)?.status === 'fired' ? true : null),
      10000,
      100,
    );
    expect((await notificationsOf(task.id, 'task.escalation_supervision')).map((n) => n.user_id)).toEqual(
      await leadersOf('xh'),
    );
    expect((await t.http().get(`/api/v1/tasks/${task.id}`).set(dept.auth)).body.escalationLevel).toBe(2);
    const level3 = (await timersOf(task.id)).filter((r) => r.status === 'pending');
    expect(level3.map((r) => JSON.parse(r.do_action).level)).toEqual([3]);
  }, 60_000);

  it('an approved extension moves the due time and the deadline timers, and is counted', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(2), '夜市摊点整治');
    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    const old = await timersOf(task.id);
    expect(old.map((r) => r.timer_id).sort()).toEqual((await inProgressTimers(task.dueAt)).ids);
    const oldDeadline = old.find((r) => r.timer_id === 'deadline-escalation') as TimerRow;
    await waitFor(
      async () => ((await Promise.all(old.map((r) => queue.getJob(timerJobId(r.id))))).every(Boolean) ? true : null),
      5000,
      50,
    );

    const newDue = new Date(new Date(task.dueAt).getTime() + 3 * 86400_000).toISOString();
    expect((await act(dept, task.id, 'request-extension', { dueAt: newDue, reason: '雨季施工受阻' })).status).toBe(200);
    const approved = await act(dept, task.id, 'approve-extension');
    expect(approved.status).toBe(200);
    const approvedAt = Date.now();
    expect(approved.body).toMatchObject({ dueAt: newDue, counters: { extensions: 1 } });

    const rows = await timersOf(task.id);
    expect(rows.filter((r) => old.some((o) => o.id === r.id)).map((r) => r.status)).toEqual(old.map(() => 'cancelled'));
    const fresh = rows.filter((r) => r.status === 'pending');
    const moved = await inProgressTimers(newDue);
    expect(fresh.map((r) => r.timer_id).sort()).toEqual(moved.ids);
    // one working day before the new due time, on the working-day calendar (weekends and holidays skipped)
    const dayBefore = fresh.find((r) => r.timer_id === 'due-in-one-working-day');
    if (moved.ids.includes('due-in-one-working-day')) {
      expect(new Date((dayBefore as TimerRow).due_at).toISOString()).toBe(moved.dayBefore.toISOString());
    }
    const deadline = fresh.find((r) => r.timer_id === 'deadline-escalation') as TimerRow;
    const progress = fresh.find((r) => r.timer_id === 'progress-reminder') as TimerRow;
    expect(new Date(deadline.due_at).toISOString()).toBe(newDue);
    // 0.8 of the way from the approval to the new due time
    const expected = approvedAt + 0.8 * (Date.parse(newDue) - approvedAt);
    expect(Math.abs(new Date(progress.due_at).getTime() - expected)).toBeLessThan(60_000);
    // new delayed jobs: the wake-up of the due-row drain at the start of each new time's slot, and each row's own job
    // TIMER_JOB_GRACE_MS after it
    for (const r of fresh) {
      const due = new Date(r.due_at).getTime();
      const job = await waitFor(() => queue.getJob(timerJobId(r.id)), 5000, 50);
      expect(await job.getState()).toBe('delayed');
      expect(Math.abs(job.timestamp + (job.opts.delay ?? 0) - (due + TIMER_JOB_GRACE_MS))).toBeLessThan(1000);
      const slot = due - (due % TIMER_WAKE_SLOT_MS);
      const wake = await waitFor(() => queue.getJob(timerWakeJobId(slot)), 5000, 50);
      expect(await wake.getState()).toBe('delayed');
      expect(Math.abs(wake.timestamp + (wake.opts.delay ?? 0) - slot)).toBeLessThan(1000);
    }
    // the old jobs, should they still fire, find their rows cancelled
    expect(await worker.get(TimerFiringService).fire(oldDeadline.id, new Date(Date.parse(newDue) + 1000))).toEqual({
      kind: 'not-pending',
      status: 'cancelled',
    });

    // a second extension is counted too
    const later = new Date(Date.parse(newDue) + 86400_000).toISOString();
    await act(dept, task.id, 'request-extension', { dueAt: later, reason: '再次延期' });
    expect((await act(dept, task.id, 'approve-extension')).body.counters.extensions).toBe(2);
  }, 60_000);

  it('manual urges are rate limited per task (429 RATE_LIMITED), for the owner and the owner’s superior alike', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '渣土车整治');
    const other = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '渣土车整治（二）');
    expect((await act(dept, task.id, 'urge', { comment: '请加快进度' })).status).toBe(200);
    const again = await act(dept, task.id, 'urge');
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: expect.any(Number) } });
    const superior = await login(t, 'xh-leader');
    expect((await act(superior, task.id, 'urge')).body.code).toBe('RATE_LIMITED');
    expect((await act(dept, other.id, 'urge')).status).toBe(200);
    // a refused urge is not an urge: only one urge event, one notice per recipient
    const events = (await t.http().get(`/api/v1/tasks/${task.id}/events`).set(dept.auth)).body.items as {
      action: string;
    }[];
    expect(events.filter((e) => e.action === 'urge')).toHaveLength(1);
    // ten minutes later it is allowed again
    const [unit] = await q<{ path: string }>('SELECT path FROM org_units WHERE id = ?', [dept.user.orgUnitId]);
    const principal: Principal = {
      userId: dept.user.id,
      username: dept.user.username,
      orgUnitId: dept.user.orgUnitId,
      orgUnitPath: unit.path,
      roles: ['leader'],
    };
    const shell = t.app.get(TaskShell);
    await expect(
      shell.perform(principal, task.id, 'urge', {}, { now: new Date(Date.now() + 9 * 60_000) }),
    ).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await expect(
      shell.perform(principal, task.id, 'urge', {}, { now: new Date(Date.now() + 11 * 60_000) }),
    ).resolves.toMatchObject({ id: task.id });
  }, 60_000);

  it('Redis losing every job between scheduling and firing loses no timer and sends nothing twice', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inSeconds(4), '共享单车乱停放整治');
    const rows = await timersOf(task.id);
    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    await waitFor(
      async () => ((await Promise.all(rows.map((r) => queue.getJob(timerJobId(r.id))))).every(Boolean) ? true : null),
      5000,
      50,
    );

    expect(await loseRedis()).toBeGreaterThan(0); // FLUSHALL, for this run's keys
    expect(await queue.getJob(timerJobId(rows[0].id))).toBeUndefined();
    const report = await worker.get(TimerSweeper).sweepOnce();
    expect(report.timersRescheduled).toBeGreaterThanOrEqual(2);
    for (const r of rows) expect(await queue.getJob(timerJobId(r.id))).toBeDefined();

    await waitFor(
      async () =>
        (await timersOf(task.id)).filter((r) => rows.some((o) => o.id === r.id)).every((r) => r.status === 'fired')
          ? true
          : null,
      15000,
      100,
    );
    const fired = await timersOf(task.id);
    for (const r of rows) {
      const f = fired.find((x) => x.id === r.id) as TimerRow;
      expect(new Date(f.fired_at as Date).getTime()).toBeGreaterThanOrEqual(new Date(r.due_at).getTime());
    }
    const dueSoon = await notificationsOf(task.id, 'task.due_soon');
    expect(dueSoon.map((n) => n.user_id).sort()).toEqual((await recipientsOf('xh-cgj')).sort());

    // another loss and another sweep, a re-added job, a duplicate delivery: no second notification
    await loseRedis();
    await worker.get(TimerSweeper).sweepOnce();
    for (const r of rows)
      await queue.add(
        'fire-timer',
        { timerRowId: r.id, taskId: task.id, dueAt: new Date(r.due_at).toISOString() },
        { jobId: `${timerJobId(r.id)}-dup` },
      );
    await sleep(1000);
    const all = await notificationsOf(task.id);
    const keys = all.map((n) => n.dedup_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(await notificationsOf(task.id, 'task.due_soon')).toHaveLength(dueSoon.length);
    expect(await notificationsOf(task.id, 'task.escalation_urge')).toHaveLength((await leadersOf('xh-cgj')).length);
  }, 60_000);

  it('timers whose jobs Redis lost fire within seconds of their due time, with no sweep to put the jobs back', async () => {
    // from here on this worker does not sweep by itself (the tests below call sweepOnce when they need it)
    await worker.get(TimerSweeper).onApplicationShutdown();
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inSeconds(4), '夜间施工噪音整治');
    const rows = await timersOf(task.id);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const queue = worker.get<Queue>(getQueueToken(QueueName.Timers));
    await waitFor(
      async () => ((await Promise.all(rows.map((r) => queue.getJob(timerJobId(r.id))))).every(Boolean) ? true : null),
      5000,
      50,
    );
    expect(await loseRedis()).toBeGreaterThan(0);
    for (const r of rows) expect(await queue.getJob(timerJobId(r.id))).toBeUndefined();

    await waitFor(
      async () =>
        (await timersOf(task.id)).filter((r) => rows.some((o) => o.id === r.id)).every((r) => r.status === 'fired')
          ? true
          : null,
      20_000,
      100,
    );
    const fired = await timersOf(task.id);
    for (const r of rows) {
      const f = fired.find((x) => x.id === r.id) as TimerRow;
      const late = new Date(f.fired_at as Date).getTime() - new Date(r.due_at).getTime();
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(8_000); // the watch looks every 2 s for rows 3 s overdue; the sweep runs every 30 s
    }
    const dueSoon = await notificationsOf(task.id, 'task.due_soon');
    expect(dueSoon.map((n) => n.user_id).sort()).toEqual((await recipientsOf('xh-cgj')).sort());
    expect(await notificationsOf(task.id, 'task.escalation_urge')).toHaveLength((await leadersOf('xh-cgj')).length);
  }, 60_000);

  it('the due-row drain pages through rows due at the same instant, and leaves out rows whose jobs failed for good', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inSeconds(3600), '同刻到期分页');
    const at = new Date(Date.now() + 30 * 86400_000); // far ahead: no worker fires them during the test
    const ids = Array.from({ length: 7 }, () => newId()).sort();
    await t.ds.query(
      `INSERT INTO task_timers (id, task_id, timer_id, state, due_at, status, do_action, task_version, last_error)
       VALUES ${ids.map(() => "(?, ?, 'page-test', 'in_progress', ?, 'pending', '{\"kind\":\"remind\"}', 1, ?)").join(',')}`,
      ids.flatMap((id, i) => [id, task.id, at, i === 3 ? 'failed after 8 attempts' : null]),
    );
    try {
      const firing = worker.get(TimerFiringService);
      const seen: string[] = [];
      let cursor: { dueAt: Date; id: string } | undefined;
      // other tests' pending rows due before `at` come first; the pages go on until the rows run out
      for (let page = 0; page < 1000; page++) {
        const rows = await firing.dueHeads(new Date(at.getTime() + 1000), 2, cursor);
        if (!rows.length) break;
        seen.push(...rows.map((r) => r.id).filter((id) => ids.includes(id)));
        cursor = { dueAt: new Date(rows[rows.length - 1].due_at), id: rows[rows.length - 1].id };
      }
      expect(seen).toEqual(ids.filter((_, i) => i !== 3));
    } finally {
      await t.ds.query(
        `UPDATE task_timers SET status = 'cancelled' WHERE id IN (${ids.map(() => '?').join(',')})`,
        ids,
      );
    }
  });

  it('an outbox row sent but never applied is published again after a minute', async () => {
    const task = await createTask(dept, 'STREET_VENDOR_RECTIFICATION', inDays(5), '广告牌匾整治');
    const [row] = await q<{ id: string }>(
      "SELECT id FROM outbox WHERE aggregate_id = ? AND job_name = 'fire-timer' ORDER BY id LIMIT 1",
      [task.id],
    );
    // a notify row the relay marked sent whose job Redis then lost
    await q(
      "INSERT INTO outbox (job_name, aggregate_id, payload, sent_at, attempts) VALUES ('notify', ?, ?, NOW(3) - INTERVAL 2 MINUTE, 1)",
      [task.id, JSON.stringify({ taskId: task.id, eventSeq: 99, template: 'task.urged', to: 'assignee' })],
    );
    const [lost] = await q<{ id: string }>(
      "SELECT id FROM outbox WHERE aggregate_id = ? AND job_name = 'notify' ORDER BY id DESC LIMIT 1",
      [task.id],
    );
    expect(Number(lost.id)).toBeGreaterThan(Number(row.id));
    const report = await worker.get(TimerSweeper).sweepOnce();
    expect(report.outboxRepublished).toBeGreaterThanOrEqual(1);
    await waitFor(
      async () =>
        (await q('SELECT outbox_id FROM applied_effects WHERE outbox_id = ?', [lost.id])).length ? true : null,
      10000,
      100,
    );
    expect((await notificationsOf(task.id, 'task.urged')).length).toBe((await recipientsOf('xh-cgj')).length);
    // a fire-timer row is never republished by this path (the timer sweep owns timers)
    expect(
      (await q<{ sent_at: Date | null }>('SELECT sent_at FROM outbox WHERE id = ?', [row.id]))[0].sent_at,
    ).not.toBeNull();
  }, 60_000);

  it('a stopped and restarted worker fires each due timer exactly once in effect, even with two workers racing', async () => {
    await worker.close();
    const tasks: { id: string }[] = [];
    for (let i = 0; i < 3; i++) tasks.push(await createTask(community, 'TIMER_FAST', inDays(3), `重启测试${i}`));
    const rows = (await Promise.all(tasks.map((x) => timersOf(x.id)))).flat();
    expect(rows).toHaveLength(12);
    // all four timers of each task come due while no worker runs
    await sleep(5000);
    expect((await Promise.all(tasks.map((x) => timersOf(x.id)))).flat().every((r) => r.status === 'pending')).toBe(
      true,
    );

    worker = await startWorker();
    const second = await startWorker();
    try {
      await waitFor(
        async () =>
          (await Promise.all(tasks.map((x) => timersOf(x.id)))).flat().every((r) => r.status === 'fired') ? true : null,
        20000,
        100,
      );
      // rungs fired together (or out of order) schedule no rung the task already reached
      expect((await Promise.all(tasks.map((x) => timersOf(x.id)))).flat()).toHaveLength(12);
      // duplicates delivered on purpose: nothing changes
      const firing = second.get(TimerFiringService);
      for (const r of rows) expect((await firing.fire(r.id)).kind).toBe('not-pending');
    } finally {
      await second.close();
    }
    const expectedPerTask =
      (await recipientsOf('xh-jd1-sq1')).length +
      (await leadersOf('xh-jd1-sq1')).length +
      (await leadersOf('xh-jd1')).length +
      (await leadersOf('xh')).length;
    for (const x of tasks) {
      const notes = await notificationsOf(x.id);
      expect(notes).toHaveLength(expectedPerTask);
      const events = (await t.http().get(`/api/v1/tasks/${x.id}/events`).set(community.auth)).body.items as {
        action: string;
      }[];
      expect(events.filter((e) => e.action === 'escalate')).toHaveLength(3);
      expect(await q('SELECT id FROM supervision_entries WHERE task_id = ?', [x.id])).toHaveLength(2);
    }
  }, 60_000);
});

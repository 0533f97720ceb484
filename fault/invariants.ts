/**
 * The invariant checker of a fault run: plain SQL on the run's database and HTTP on its API, after the load has
 * stopped and the work has drained. Each check returns how much it looked at and the first violations it found.
 *
 * 1. Every acknowledged action has exactly one event (the key the load put into a title, note, summary, comment or
 *    terms appears in exactly one event; actions without a free-text field are counted per task and action), no
 *    refused action left an event, and an action of unknown outcome left at most one.
 * 2. Acknowledged keys still replay: the same request with the same key returns the stored answer and adds nothing.
 * 3. Every outbox row was relayed and applied exactly once in effect: every effect row has its applied_effects row,
 *    every notify row its notifications, no notification is duplicated.
 * 4. No task or parent is stuck: every parent's roll-up (child counts, weighted progress) agrees with its children;
 *    nothing is left in the outbox.
 * 5. Money is conserved: balances sum to zero, no internal balance is negative, every balance equals its postings, a
 *    finished task holds no money, no grant is spent beyond its cap.
 * 6. Every due timer fired exactly once in effect: none is left pending, a fired reminder notified, a fired escalation
 *    wrote exactly one escalation event, a cancelled timer notified nobody, none fired early.
 * 7. The hash chain of every task the load touched verifies through the API, and each task row's chain head
 *    (last_event_seq, last_event_hash) is its last event.
 */
import type { Pool } from 'mysql2/promise';
import { type ActionRecord, type ApiClient, KEY_PATTERN, type Session } from './http.js';

export interface InvariantResult {
  name: string;
  ok: boolean;
  /** What was looked at, e.g. "2,314 acknowledged actions". */
  checked: string;
  violations: string[];
  /** Figures worth reporting besides pass/fail. */
  figures?: Record<string, number | string>;
  /** Timers that fired more than LATE_MS after their due time (due and fired, ms since epoch). */
  lateTimers?: { dueAt: number; firedAt: number; kind: string }[];
}

/** A timer firing later than this counts as late in the report. */
export const LATE_MS = 5_000;

const MAX_LISTED = 12;

function result(
  name: string,
  checked: string,
  violations: string[],
  figures?: InvariantResult['figures'],
): InvariantResult {
  return {
    name,
    ok: violations.length === 0,
    checked,
    violations: violations.slice(0, MAX_LISTED),
    ...(figures ? { figures } : {}),
  };
}

async function rows<T>(db: Pool, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await db.query(sql, params);
  return r as T[];
}

interface EventRow {
  task_id: string;
  seq: number;
  action: string;
  actor_user_id: string | null;
  payload: string;
}

/** 1. Every acknowledged action has exactly one event. */
export async function checkActionEvents(db: Pool, actions: ActionRecord[]): Promise<InvariantResult> {
  const events = await rows<EventRow>(db, 'SELECT task_id, seq, action, actor_user_id, payload FROM task_events');
  const byKey = new Map<string, EventRow[]>();
  const byTaskAction = new Map<string, EventRow[]>();
  for (const e of events) {
    for (const k of new Set(e.payload.match(KEY_PATTERN) ?? [])) byKey.set(k, [...(byKey.get(k) ?? []), e]);
    if (e.actor_user_id) {
      const ta = `${e.task_id}/${e.action}`;
      byTaskAction.set(ta, [...(byTaskAction.get(ta) ?? []), e]);
    }
  }
  const violations: string[] = [];
  const known = new Set(actions.map((a) => a.key));
  const pairs = new Map<string, { acked: number; unknown: number }>();
  let acked = 0;
  for (const a of actions) {
    if (a.outcome === 'acked') acked += 1;
    const expectedAction = a.action;
    if (a.carriesKey) {
      const found = (byKey.get(a.key) ?? []).filter((e) => e.action === expectedAction);
      if (a.outcome === 'acked' && found.length !== 1)
        violations.push(`${a.action} ${a.key} (acknowledged) has ${found.length} events`);
      if (a.outcome === 'unknown' && found.length > 1)
        violations.push(`${a.action} ${a.key} (outcome unknown) has ${found.length} events`);
      if (a.outcome === 'refused' && found.length > 0)
        violations.push(`${a.action} ${a.key} (refused ${a.code}) has ${found.length} events`);
      if (a.outcome === 'acked' && found.length === 1 && a.taskId && found[0].task_id !== a.taskId)
        violations.push(`${a.action} ${a.key} acknowledged on task ${a.taskId}, its event is on ${found[0].task_id}`);
      continue;
    }
    if (!a.taskId) continue;
    const pair = `${a.taskId}/${a.action}`;
    const p = pairs.get(pair) ?? { acked: 0, unknown: 0 };
    if (a.outcome === 'acked') p.acked += 1;
    if (a.outcome === 'unknown') p.unknown += 1;
    pairs.set(pair, p);
    if (a.action === 'handoff' && a.outcome === 'acked') {
      // exactly one handoff event names exactly these children, and each child has its create event
      const ids = [...a.createdIds].sort().join(',');
      const matching = (byTaskAction.get(pair) ?? []).filter(
        (e) =>
          ((JSON.parse(e.payload) as { children?: { taskId: string }[] }).children ?? [])
            .map((c) => c.taskId)
            .sort()
            .join(',') === ids,
      );
      if (matching.length !== 1)
        violations.push(`handoff ${a.key} on ${a.taskId} (acknowledged) has ${matching.length} events`);
      for (const child of a.createdIds)
        if (!(byTaskAction.get(`${child}/create`) ?? []).length)
          violations.push(`handoff ${a.key}: child ${child} has no create event`);
    }
  }
  for (const [pair, p] of pairs) {
    const n = (byTaskAction.get(pair) ?? []).length;
    if (n < p.acked || n > p.acked + p.unknown)
      violations.push(`${pair}: ${n} events for ${p.acked} acknowledged + ${p.unknown} unknown`);
  }
  for (const k of byKey.keys())
    if (!known.has(k)) violations.push(`an event carries key ${k}, which the load never sent`);
  const unknown = actions.filter((a) => a.outcome === 'unknown').length;
  const refused = actions.filter((a) => a.outcome === 'refused').length;
  return result(
    'every acknowledged action has exactly one event',
    `${acked} acknowledged, ${unknown} unknown, ${refused} refused`,
    violations,
    {
      acknowledged: acked,
      unknown,
      refused,
    },
  );
}

/** 2. The same request with the same key replays the stored answer (a sample of acknowledged writes). */
export async function checkReplays(
  api: ApiClient,
  sessions: Map<string, Session>,
  actions: ActionRecord[],
  sample = 40,
): Promise<InvariantResult> {
  const acked = actions.filter((a) => a.outcome === 'acked' && a.request);
  const step = Math.max(1, Math.floor(acked.length / sample));
  const picked = acked.filter((_, i) => i % step === 0).slice(0, sample);
  const violations: string[] = [];
  for (const a of picked) {
    const s = sessions.get(a.username ?? '');
    if (!s || !a.request) continue;
    const res = await api.raw('POST', a.request.path, {
      token: s.token,
      body: a.request.body,
      route: 'replay',
      headers: { 'idempotency-key': a.key, 'x-correlation-id': a.key },
    });
    if (typeof res.status !== 'number') violations.push(`replay of ${a.key}: ${res.status}`);
    else if (res.status !== a.status || (res as { headers: Headers }).headers.get('idempotent-replayed') !== 'true')
      violations.push(
        `replay of ${a.key}: ${res.status} (acknowledged ${a.status}), replayed=${(res as { headers: Headers }).headers.get('idempotent-replayed')}`,
      );
  }
  return result('acknowledged keys replay their stored answer', `${picked.length} replays`, violations);
}

interface OutboxRow {
  id: number;
  job_name: string;
  payload: string;
  sent: number;
  applied_as: string | null;
}

/** 3 and 4 (outbox part). Every outbox row was relayed and applied exactly once in effect. */
export async function checkOutbox(db: Pool): Promise<InvariantResult> {
  const outbox = await rows<OutboxRow>(
    db,
    `SELECT o.id, o.job_name, o.payload, o.sent_at IS NOT NULL AS sent, a.job_name AS applied_as
       FROM outbox o LEFT JOIN applied_effects a ON a.outbox_id = o.id ORDER BY o.id`,
  );
  const violations: string[] = [];
  const unsent = outbox.filter((o) => !Number(o.sent));
  if (unsent.length) violations.push(`${unsent.length} rows never relayed (first ${unsent[0].id})`);
  const effects = outbox.filter((o) => o.job_name !== 'fire-timer');
  const unapplied = effects.filter((o) => !o.applied_as);
  for (const o of unapplied) violations.push(`outbox ${o.id} (${o.job_name}) was never applied`);
  const [{ n: orphans }] = await rows<{ n: number }>(
    db,
    'SELECT COUNT(*) AS n FROM applied_effects a LEFT JOIN outbox o ON o.id = a.outbox_id WHERE o.id IS NULL',
  );
  if (Number(orphans)) violations.push(`${orphans} applied_effects rows without an outbox row`);
  // a notify row in effect: its notifications exist (keys are <task>-<event seq>-<template>-<user>)
  const keys = await rows<{ dedup_key: string }>(
    db,
    "SELECT dedup_key FROM notifications WHERE dedup_key NOT LIKE 'timer-%'",
  );
  const prefixes = new Set(keys.map((k) => k.dedup_key.slice(0, -36)));
  let notifyRows = 0;
  for (const o of effects.filter((e) => e.job_name === 'notify' && e.applied_as === 'notify')) {
    notifyRows += 1;
    const p = JSON.parse(o.payload) as {
      taskId?: string;
      taskIds?: string[];
      eventSeq: number;
      template: string;
      userIds?: string[];
    };
    if (p.userIds?.length) continue;
    for (const t of p.taskIds ?? (p.taskId ? [p.taskId] : [])) {
      if (!prefixes.has(`${t}-${p.eventSeq}-${p.template}-`))
        violations.push(`outbox ${o.id}: no ${p.template} notification for task ${t} event ${p.eventSeq}`);
    }
  }
  const dupes = await rows<{ dedup_key: string; n: number }>(
    db,
    'SELECT dedup_key, COUNT(*) AS n FROM notifications GROUP BY dedup_key HAVING n > 1',
  );
  for (const d of dupes) violations.push(`notification ${d.dedup_key} delivered ${d.n} times`);
  const byJob: Record<string, number> = {};
  for (const o of outbox) byJob[o.job_name] = (byJob[o.job_name] ?? 0) + 1;
  return result(
    'every outbox row was applied exactly once in effect',
    `${outbox.length} outbox rows (${Object.entries(byJob)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}), ${notifyRows} notify effects`,
    violations,
    { outboxRows: outbox.length, unsent: unsent.length, unapplied: unapplied.length },
  );
}

/** 4. Every parent's roll-up agrees with its children (children_overdue moves with the clock and is left out). */
export async function checkRollUps(db: Pool): Promise<InvariantResult> {
  const parents = await rows<Record<string, string | number | null>>(
    db,
    `SELECT p.id, p.is_open, p.progress, p.children_total, p.children_open, p.children_closed, p.children_returned,
            COUNT(*) AS total, SUM(c.is_open) AS open, SUM(c.state = 'closed') AS closed,
            SUM(c.state IN ('returned', 'withdrawn')) AS returned,
            SUM(CASE WHEN c.state NOT IN ('returned', 'withdrawn', 'cancelled') THEN c.weight ELSE 0 END) AS w,
            SUM(CASE WHEN c.state NOT IN ('returned', 'withdrawn', 'cancelled') THEN c.weight * c.progress ELSE 0 END) AS wp
       FROM tasks p JOIN tasks c ON c.parent_id = p.id GROUP BY p.id`,
  );
  const violations: string[] = [];
  for (const p of parents) {
    const n = (k: string) => Number(p[k] ?? 0);
    const diffs: string[] = [];
    if (n('children_total') !== n('total')) diffs.push(`total ${n('children_total')}≠${n('total')}`);
    if (n('children_open') !== n('open')) diffs.push(`open ${n('children_open')}≠${n('open')}`);
    if (n('children_closed') !== n('closed')) diffs.push(`closed ${n('children_closed')}≠${n('closed')}`);
    if (n('children_returned') !== n('returned')) diffs.push(`returned ${n('children_returned')}≠${n('returned')}`);
    if (n('is_open') && n('w') > 0 && n('progress') !== Math.round(n('wp') / n('w')))
      diffs.push(`progress ${n('progress')}≠${Math.round(n('wp') / n('w'))}`);
    if (diffs.length) violations.push(`task ${p.id}: ${diffs.join(', ')}`);
  }
  return result('no parent is stuck: roll-ups agree with their children', `${parents.length} parents`, violations);
}

/** 5. Money is conserved (test/helpers/invariants.ts, plus finished tasks and grant caps). */
export async function checkMoney(db: Pool): Promise<InvariantResult> {
  const violations: string[] = [];
  const [{ total, accounts }] = await rows<{ total: string; accounts: number }>(
    db,
    'SELECT CAST(COALESCE(SUM(balance_fen), 0) AS CHAR) AS total, COUNT(*) AS accounts FROM accounts',
  );
  if (total !== '0') violations.push(`balances sum to ${total} fen, not 0`);
  const negative = await rows<{ id: string; balance_fen: number }>(
    db,
    "SELECT id, balance_fen FROM accounts WHERE balance_fen < 0 AND kind <> 'external'",
  );
  for (const a of negative) violations.push(`account ${a.id} is negative: ${a.balance_fen} fen`);
  const drift = await rows<{ id: string }>(
    db,
    `SELECT a.id FROM accounts a
       LEFT JOIN (SELECT debit_account AS id, SUM(amount_fen) AS s FROM ledger_entries GROUP BY debit_account) d ON d.id = a.id
       LEFT JOIN (SELECT credit_account AS id, SUM(amount_fen) AS s FROM ledger_entries GROUP BY credit_account) c ON c.id = a.id
      WHERE a.balance_fen <> COALESCE(d.s, 0) - COALESCE(c.s, 0)`,
  );
  for (const a of drift) violations.push(`account ${a.id}: balance differs from its postings`);
  const stranded = await rows<{ id: string; state: string; balance_fen: number }>(
    db,
    `SELECT t.id, t.state, a.balance_fen FROM tasks t JOIN accounts a ON a.id = CONCAT('task-', t.id)
      WHERE t.is_open = 0 AND a.balance_fen <> 0`,
  );
  for (const t of stranded) violations.push(`finished task ${t.id} (${t.state}) still holds ${t.balance_fen} fen`);
  const overCap = await rows<{ id: string }>(
    db,
    'SELECT id FROM grants WHERE cap_fen IS NOT NULL AND spent_fen > cap_fen',
  );
  for (const g of overCap) violations.push(`grant ${g.id} is spent beyond its cap`);
  const [{ entries }] = await rows<{ entries: number }>(db, 'SELECT COUNT(*) AS entries FROM ledger_entries');
  return result(
    'money is conserved and no balance is negative',
    `${accounts} accounts, ${entries} postings`,
    violations,
  );
}

interface TimerRow {
  id: string;
  task_id: string;
  status: string;
  kind: string;
  due_at: Date;
  fired_at: Date | null;
  last_error: string | null;
}

/** 6. Every timer due before `checkpoint` fired exactly once in effect. */
export async function checkTimers(db: Pool, checkpoint: Date): Promise<InvariantResult> {
  const timers = await rows<TimerRow>(
    db,
    `SELECT id, task_id, status, JSON_UNQUOTE(JSON_EXTRACT(do_action, '$.kind')) AS kind, due_at, fired_at, last_error
       FROM task_timers WHERE due_at <= ?`,
    [checkpoint],
  );
  const violations: string[] = [];
  const notified = new Map<string, number>();
  for (const r of await rows<{ dedup_key: string }>(
    db,
    "SELECT dedup_key FROM notifications WHERE dedup_key LIKE 'timer-%'",
  )) {
    const row = r.dedup_key.slice('timer-'.length, 'timer-'.length + 36);
    notified.set(row, (notified.get(row) ?? 0) + 1);
  }
  const escalations = new Map<string, number>();
  for (const e of await rows<{ task_id: string; n: number }>(
    db,
    "SELECT task_id, COUNT(*) AS n FROM task_events WHERE action = 'escalate' GROUP BY task_id",
  ))
    escalations.set(e.task_id, Number(e.n));
  const firedEscalations = new Map<string, number>();
  for (const e of await rows<{ task_id: string; n: number }>(
    db,
    `SELECT task_id, COUNT(*) AS n FROM task_timers
      WHERE status = 'fired' AND JSON_UNQUOTE(JSON_EXTRACT(do_action, '$.kind')) = 'escalate' GROUP BY task_id`,
  ))
    firedEscalations.set(e.task_id, Number(e.n));
  const late: number[] = [];
  let fired = 0;
  let cancelled = 0;
  for (const t of timers) {
    if (t.status === 'pending') {
      violations.push(
        `timer ${t.id} (${t.kind}) due ${new Date(t.due_at).toISOString()} is still pending${t.last_error ? `: ${t.last_error.slice(0, 120)}` : ''}`,
      );
      continue;
    }
    if (t.status === 'cancelled') {
      cancelled += 1;
      if (notified.get(t.id)) violations.push(`cancelled timer ${t.id} notified ${notified.get(t.id)} users`);
      continue;
    }
    fired += 1;
    if (t.fired_at && new Date(t.fired_at).getTime() < new Date(t.due_at).getTime())
      violations.push(`timer ${t.id} fired before it was due`);
    if (t.fired_at) late.push(new Date(t.fired_at).getTime() - new Date(t.due_at).getTime());
    if (!notified.get(t.id)) violations.push(`fired ${t.kind} timer ${t.id} notified nobody`);
  }
  // every fired escalation wrote exactly one escalation event on its task
  for (const [task, n] of firedEscalations) {
    const events = escalations.get(task) ?? 0;
    if (events !== n) violations.push(`task ${task}: ${n} fired escalation timers, ${events} escalation events`);
  }
  const lateTimers = timers
    .filter((t) => t.fired_at && new Date(t.fired_at).getTime() - new Date(t.due_at).getTime() > LATE_MS)
    .map((t) => ({
      dueAt: new Date(t.due_at).getTime(),
      firedAt: new Date(t.fired_at as Date).getTime(),
      kind: t.kind,
    }));
  late.sort((a, b) => a - b);
  const q = (p: number) => (late.length ? late[Math.min(late.length - 1, Math.ceil(p * late.length) - 1)] : 0);
  const out = result(
    'every due timer fired exactly once in effect',
    `${timers.length} due timers (${fired} fired, ${cancelled} cancelled); lateness p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${late[late.length - 1] ?? 0} ms`,
    violations,
    {
      due: timers.length,
      fired,
      cancelled,
      lateP50Ms: q(0.5),
      lateP99Ms: q(0.99),
      lateMaxMs: late[late.length - 1] ?? 0,
      late: lateTimers.length,
    },
  );
  return { ...out, lateTimers };
}

/** 7. The event chain of every task the load touched verifies through the API; every task row's head is its last event. */
export async function checkChains(db: Pool, api: ApiClient, admin: Session, taskIds: string[]): Promise<InvariantResult> {
  const violations: string[] = [];
  const ids = [...new Set(taskIds)];
  const heads = await rows<{ id: string; head: number | null; seq: number }>(
    db,
    `SELECT t.id, t.last_event_seq AS head, e.seq FROM tasks t
       JOIN task_events e ON e.task_id = t.id AND e.seq = (SELECT MAX(seq) FROM task_events WHERE task_id = t.id)
      WHERE NOT (t.last_event_seq <=> e.seq AND t.last_event_hash <=> e.hash)`,
  );
  for (const h of heads) violations.push(`task ${h.id}: its row's chain head is at seq ${String(h.head)}, its last event at ${h.seq}`);
  for (let i = 0; i < ids.length; i += 8) {
    await Promise.all(
      ids.slice(i, i + 8).map(async (id) => {
        const body = await api.get(admin, `/api/v1/tasks/${id}/events/verify`, 'verify', 30_000);
        if (!body) violations.push(`task ${id}: the chain could not be read`);
        else if (body.valid !== true) violations.push(`task ${id}: chain broken at seq ${String(body.brokenAtSeq)}`);
      }),
    );
  }
  return result('every touched task’s event chain verifies (HTTP), every task’s head is its last event', `${ids.length} tasks`, violations);
}

/**
 * Idempotency keys a request claimed and never finished: a retry is refused as "in progress" until the key is a minute
 * old, then answered 409 IDEMPOTENCY_OUTCOME_UNKNOWN (the client checks the resource and retries with a new key).
 */
export async function stuckIdempotencyKeys(db: Pool, before: Date): Promise<number> {
  const [{ n }] = await rows<{ n: number }>(
    db,
    'SELECT COUNT(*) AS n FROM idempotency_keys WHERE status_code = 0 AND created_at < ?',
    [before],
  );
  return Number(n);
}

/**
 * The load's HTTP client. Every write carries an Idempotency-Key (also sent as the correlation id) and is retried
 * with the same key until the API acknowledges it (2xx), refuses it (4xx), or says its outcome is unknown; every
 * response time is recorded, so the outage windows can be measured afterwards.
 */
import { sleep } from './services.js';

/** One request as the client saw it: when it started, how long it took, and how it ended. */
export interface Sample {
  at: number;
  ms: number;
  /** HTTP status, or `timeout` (no answer within the client timeout) or `error` (connection refused or reset). */
  status: number | 'timeout' | 'error';
  method: string;
  route: string;
}

/** What became of one write. */
export type Outcome =
  | { kind: 'acked'; status: number; body: Record<string, unknown>; attempts: number; replayed: boolean }
  /** Refused before anything committed (4xx): the action has no effect. */
  | { kind: 'refused'; status: number; code: string; message: string; attempts: number }
  /** The API cannot say whether it committed (the key's outcome is unknown, or no answer before the deadline). */
  | { kind: 'unknown'; reason: string; attempts: number };

/** An acknowledged, refused or unknown write, as the invariant checker reads it. */
export interface ActionRecord {
  key: string;
  lane: string;
  /** `create` (POST /tasks), `handoff`, `expense`, or a workflow action name. */
  action: string;
  taskId: string | null;
  /** The key appears in the event payload (title, note, summary, comment or terms) when `carriesKey`. */
  carriesKey: boolean;
  outcome: Outcome['kind'];
  status: number | null;
  /** Ids of the tasks a create or handoff acknowledged. */
  createdIds: string[];
  ackedAt: number | null;
  attempts: number;
  /** For a refusal: its code (the report lists unexpected ones). */
  code?: string;
  /** Who sent it, and what (for the replay check). */
  username?: string;
  request?: { path: string; body: unknown };
}

export interface Session {
  username: string;
  userId: string;
  orgUnitId: string;
  token: string;
}

export const CLIENT_TIMEOUT_MS = 10_000;
/** How long one write is retried (same key) before its outcome is recorded as unknown. */
export const WRITE_DEADLINE_MS = 120_000;

export class ApiClient {
  readonly samples: Sample[] = [];
  readonly actions: ActionRecord[] = [];
  private seq = 0;

  constructor(
    readonly baseUrl: string,
    /** Short tag of the run, part of every key so that keys are unique across runs. */
    readonly runTag: string,
  ) {}

  /** A fresh idempotency key; the invariant checker finds it in event payloads with KEY_PATTERN. */
  newKey(lane: string): string {
    this.seq += 1;
    return `gfk-${this.runTag}-${lane}-${this.seq}`;
  }

  /** One HTTP exchange, timed and recorded. */
  async raw(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string>; route?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers } | { status: 'timeout' | 'error' }> {
    const at = Date.now();
    const route = opts.route ?? path;
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...opts.headers,
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.timeout(opts.timeoutMs ?? CLIENT_TIMEOUT_MS),
      });
      const text = await res.text();
      this.samples.push({ at, ms: Date.now() - at, status: res.status, method, route });
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = { text };
      }
      return { status: res.status, body, headers: res.headers };
    } catch (e) {
      const name = (e as Error).name;
      const status = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'error';
      this.samples.push({ at, ms: Date.now() - at, status, method, route });
      return { status };
    }
  }

  async login(username: string, password: string): Promise<Session> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await this.raw('POST', '/api/v1/auth/login', { body: { username, password }, route: 'login' });
      if (res.status === 200) {
        const body = res.body as { accessToken: string; user: { id: string; orgUnitId: string } };
        return { username, userId: body.user.id, orgUnitId: body.user.orgUnitId, token: body.accessToken };
      }
      if (typeof res.status === 'number' && res.status < 500 && res.status !== 429) {
        throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
      }
      await sleep(200);
    }
    throw new Error(`login ${username}: the API did not answer`);
  }

  /** A read, retried while the API is unavailable (up to `deadlineMs`); null when it never answered 2xx. */
  async get(
    session: Session,
    path: string,
    route: string,
    deadlineMs = 60_000,
  ): Promise<Record<string, unknown> | null> {
    const until = Date.now() + deadlineMs;
    for (let backoff = 200; ; backoff = Math.min(backoff * 2, 2000)) {
      const res = await this.raw('GET', path, { token: session.token, route });
      if (typeof res.status === 'number' && res.status < 300) return (res as { body: Record<string, unknown> }).body;
      if (typeof res.status === 'number' && res.status < 500) return null;
      if (Date.now() + backoff > until) return null;
      await sleep(backoff);
    }
  }

  /**
   * A write with an Idempotency-Key, retried with the same key while the answer is 5xx, 401, a timeout or a refused
   * connection. 409 "still in progress" is retried for 20 s (the first attempt may still be running); 409
   * IDEMPOTENCY_OUTCOME_UNKNOWN ends it as unknown. Every outcome is recorded for the invariant checker.
   */
  async write(
    session: Session,
    req: {
      lane: string;
      method: 'POST';
      path: string;
      route: string;
      body: unknown;
      action: string;
      taskId: string | null;
      key?: string;
      carriesKey: boolean;
    },
  ): Promise<{ outcome: Outcome; record: ActionRecord }> {
    const key = req.key ?? this.newKey(req.lane);
    const deadline = Date.now() + WRITE_DEADLINE_MS;
    let attempts = 0;
    let inProgressSince: number | null = null;
    let outcome: Outcome | null = null;
    for (let backoff = 200; !outcome; backoff = Math.min(backoff * 2, 2000)) {
      attempts += 1;
      const res = await this.raw(req.method, req.path, {
        token: session.token,
        body: req.body,
        route: req.route,
        headers: { 'idempotency-key': key, 'x-correlation-id': key },
      });
      if (typeof res.status === 'number') {
        const r = res as { status: number; body: Record<string, unknown>; headers: Headers };
        const code = String(r.body.code ?? '');
        if (r.status < 300) {
          outcome = {
            kind: 'acked',
            status: r.status,
            body: r.body,
            attempts,
            replayed: r.headers.get('idempotent-replayed') === 'true',
          };
          break;
        }
        if (r.status === 409 && code === 'IDEMPOTENCY_OUTCOME_UNKNOWN') {
          outcome = { kind: 'unknown', reason: code, attempts };
          break;
        }
        if (r.status === 401) {
          // the load's tokens are valid for the whole run: a 401 means the API could not check one (its database
          // is down), so it is retried like a 503 (the outage figures count it as a wrong answer)
        } else if (r.status === 409 && code === 'CONFLICT' && /in progress/i.test(String(r.body.message ?? ''))) {
          inProgressSince ??= Date.now();
          // a key left "in progress" by a request that died with the database is never released
          if (Date.now() - inProgressSince > 20_000) {
            outcome = { kind: 'unknown', reason: 'KEY_STUCK_IN_PROGRESS', attempts };
            break;
          }
        } else if (r.status < 500) {
          outcome = { kind: 'refused', status: r.status, code, message: String(r.body.message ?? ''), attempts };
          break;
        }
      }
      if (Date.now() + backoff > deadline) {
        outcome = { kind: 'unknown', reason: 'NO_ANSWER_BEFORE_DEADLINE', attempts };
        break;
      }
      await sleep(backoff);
    }
    const record: ActionRecord = {
      key,
      lane: req.lane,
      action: req.action,
      taskId: req.taskId,
      carriesKey: req.carriesKey,
      outcome: outcome.kind,
      status: outcome.kind === 'acked' || outcome.kind === 'refused' ? outcome.status : null,
      createdIds: [],
      ackedAt: outcome.kind === 'acked' ? Date.now() : null,
      attempts,
      username: session.username,
      request: { path: req.path, body: req.body },
      ...(outcome.kind === 'refused'
        ? { code: outcome.code }
        : outcome.kind === 'unknown'
          ? { code: outcome.reason }
          : {}),
    };
    if (outcome.kind === 'acked') {
      const b = outcome.body as { id?: string; items?: { id: string }[] };
      if (req.action === 'create' && b.id) record.createdIds = [b.id];
      if (req.action === 'handoff' && b.items) record.createdIds = b.items.map((i) => i.id);
      if (req.action === 'create' && b.id) record.taskId = b.id;
    }
    this.actions.push(record);
    return { outcome, record };
  }
}

/** Keys as the load writes them (and as they appear inside event payloads). */
export const KEY_PATTERN = /gfk-[a-z0-9]+-[a-z0-9]+-\d+/g;

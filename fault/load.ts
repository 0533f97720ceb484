/**
 * Steady load for a fault run: logged-in users of the demo district doing real task lifecycles through the API, in
 * parallel lanes, while the faults happen.
 *
 * - landscape (×2): the landscape office funds a rectification task and hands it to a street with crew command and a
 *   capped payment grant; the street accepts, reports, spends twice, submits; the office approves and closes both.
 * - campaign: the emergency bureau hands a fire-hazard campaign to 东风街道, which splits it among two communities
 *   (consultation, then agreement) with derived grants; the communities spend, report and submit; everything closes
 *   bottom-up (three levels of roll-ups and settlements).
 * - sanitation: 新华街道 hands its own-duty cleaning to two communities (no grants); one of them sometimes returns it;
 *   the rest accept, report, submit and are approved.
 * - timers: the city-management bureau opens tasks of its own due in 15–45 s, so their progress reminder (at 80 %)
 *   and deadline escalation come due during the faults; every fourth is submitted at once, which cancels its timers.
 *
 * A probe pair (a street task with one community child) measures recovery: a progress report on the child must show
 * on the parent, which only the worker's roll-up can do.
 */
import { ApiClient, type Session } from './http.js';
import { sleep } from './services.js';

export const USERS = [
  'admin',
  'xh-ylj-leader',
  'xh-ajj-leader',
  'xh-cgj-leader',
  'xh-jd1-leader',
  'xh-jd1-staff',
  'xh-jd2-leader',
  'xh-jd2-staff',
  'xh-jd1-sq1-leader',
  'xh-jd1-sq1-staff',
  'xh-jd1-sq2-leader',
  'xh-jd1-sq2-staff',
  'xh-jd2-sq1-leader',
  'xh-jd2-sq1-staff',
  'xh-jd2-sq2-leader',
  'xh-jd2-sq2-staff',
  'xh-jd2-sq3-leader',
  'xh-jd2-sq3-staff',
] as const;
export type User = (typeof USERS)[number];
export type Sessions = Record<User, Session>;

const DAY = 86_400_000;
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Unit of a user's session: `xh-jd1-leader` → the unit of 新华街道. */
const unitOf = (s: Session) => s.orgUnitId;

export interface LoadOptions {
  /** Pause between two steps of a lane. */
  thinkMs: number;
  /** Shortest and longest due time of a timer-lane task. */
  timerDueMs: [number, number];
}

export class Load {
  private stopping = false;
  private lanes: Promise<void>[] = [];
  /** Timer-lane tasks are opened only while their timers come due before this instant. */
  timerCutoff = Number.POSITIVE_INFINITY;
  readonly errors: string[] = [];
  lifecycles = { started: 0, completed: 0, abandoned: 0 };

  constructor(
    private readonly api: ApiClient,
    private readonly s: Sessions,
    private readonly opts: LoadOptions,
  ) {}

  start(): void {
    const loop = (name: string, body: (lane: string) => Promise<boolean>) =>
      (async () => {
        while (!this.stopping) {
          this.lifecycles.started += 1;
          try {
            if (await body(name)) this.lifecycles.completed += 1;
            else this.lifecycles.abandoned += 1;
          } catch (e) {
            this.lifecycles.abandoned += 1;
            this.errors.push(`${name}: ${(e as Error).message}`);
            await sleep(1000);
          }
        }
      })();
    this.lanes = [
      loop('landa', (l) => this.landscape(l, 'xh-jd1')),
      loop('landb', (l) => this.landscape(l, 'xh-jd2')),
      loop('camp', (l) => this.campaign(l)),
      loop('sani', (l) => this.sanitation(l)),
      loop('timer', (l) => this.timerTask(l)),
    ];
  }

  /** Stops starting steps; the writes in flight finish (acknowledged, refused or unknown). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.lanes);
  }

  private async think(): Promise<void> {
    await sleep(this.opts.thinkMs);
  }

  /** POST /tasks: a task of the caller's own unit; its title carries the key. Returns its id, or null. */
  private async create(
    lane: string,
    s: Session,
    body: { title: string; categoryCode: string; dueAt: string; fundingFen: number },
  ): Promise<string | null> {
    const key = this.api.newKey(lane);
    const { outcome, record } = await this.api.write(s, {
      lane,
      method: 'POST',
      path: '/api/v1/tasks',
      route: 'create',
      body: { ...body, title: `${body.title} ${key}` },
      action: 'create',
      taskId: null,
      key,
      carriesKey: true,
    });
    await this.think();
    return outcome.kind === 'acked' ? record.taskId : null;
  }

  /** POST /tasks/:id/handoffs. Returns the children's ids in order, or null. */
  private async handoff(
    lane: string,
    s: Session,
    parentId: string,
    handoffs: Record<string, unknown>[],
  ): Promise<string[] | null> {
    const { outcome, record } = await this.api.write(s, {
      lane,
      method: 'POST',
      path: `/api/v1/tasks/${parentId}/handoffs`,
      route: 'handoff',
      body: { handoffs },
      action: 'handoff',
      taskId: parentId,
      carriesKey: false,
    });
    await this.think();
    return outcome.kind === 'acked' ? record.createdIds : null;
  }

  /**
   * A workflow action. With `into`, an unknown outcome is resolved by reading the task: if it is in one of those
   * states the action took effect and the lifecycle goes on; otherwise the lifecycle is abandoned. Without `into`
   * (report-progress), an unknown outcome is simply passed over.
   */
  private async act(
    lane: string,
    s: Session,
    taskId: string,
    action: string,
    payload: (key: string) => Record<string, unknown>,
    into?: string[],
  ): Promise<boolean> {
    const key = this.api.newKey(lane);
    const body = payload(key);
    const { outcome } = await this.api.write(s, {
      lane,
      method: 'POST',
      path: `/api/v1/tasks/${taskId}/actions/${action}`,
      route: `action:${action}`,
      body,
      action,
      taskId,
      key,
      carriesKey: JSON.stringify(body).includes(key),
    });
    await this.think();
    if (outcome.kind === 'acked') return true;
    if (outcome.kind === 'refused') {
      this.errors.push(`${lane}: ${action} refused ${outcome.status} ${outcome.code} ${outcome.message}`.slice(0, 300));
      return false;
    }
    if (!into) return true;
    const task = await this.api.get(s, `/api/v1/tasks/${taskId}`, 'read:task');
    return !!task && into.includes(String(task.state));
  }

  /** POST /tasks/:id/expenses with the key in the note. An unknown outcome is passed over. */
  private async expense(lane: string, s: Session, taskId: string, amountFen: number, payee: string): Promise<boolean> {
    const key = this.api.newKey(lane);
    const { outcome } = await this.api.write(s, {
      lane,
      method: 'POST',
      path: `/api/v1/tasks/${taskId}/expenses`,
      route: 'expense',
      body: { amountFen, payee, note: key },
      action: 'expense',
      taskId,
      key,
      carriesKey: true,
    });
    await this.think();
    if (outcome.kind === 'refused') this.errors.push(`${lane}: expense refused ${outcome.status} ${outcome.code}`);
    return outcome.kind !== 'refused';
  }

  private get stopped(): boolean {
    return this.stopping;
  }

  private async landscape(lane: string, street: 'xh-jd1' | 'xh-jd2'): Promise<boolean> {
    const office = this.s['xh-ylj-leader'];
    const leader = this.s[`${street}-leader`];
    const staff = this.s[`${street}-staff`];
    const root = await this.create(lane, office, {
      title: '园林景观整治',
      categoryCode: 'LANDSCAPE_RECTIFICATION',
      dueAt: inMs(30 * DAY),
      fundingFen: 200_000,
    });
    if (!root || this.stopped) return false;
    const children = await this.handoff(lane, office, root, [
      {
        assigneeOrgUnitId: unitOf(leader),
        title: '园林景观整治（街道实施）',
        dueAt: inMs(20 * DAY),
        fundingFen: 100_000,
        grants: [{ powerCode: 'CREW_COMMAND' }, { powerCode: 'PAYMENT_SETTLEMENT', capFen: 60_000 }],
      },
    ]);
    if (!children || this.stopped) return false;
    const [child] = children;
    const done = ['in_progress', 'submitted', 'closed'];
    if (!(await this.act(lane, leader, child, 'accept', () => ({}), done)) || this.stopped) return false;
    await this.act(lane, staff, child, 'report-progress', (k) => ({ percent: 40, note: k }));
    if (!(await this.expense(lane, staff, child, 20_000, '绿源园林工程有限公司')) || this.stopped) return false;
    if (!(await this.expense(lane, staff, child, 15_000, '绿源园林工程有限公司')) || this.stopped) return false;
    await this.act(lane, staff, child, 'report-progress', (k) => ({ percent: 100, note: k }));
    if (
      !(await this.act(lane, staff, child, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    if (!(await this.act(lane, office, child, 'approve', (k) => ({ comment: k }), ['closed'])) || this.stopped)
      return false;
    if (
      !(await this.act(lane, office, root, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    return this.act(lane, office, root, 'approve', (k) => ({ comment: k }), ['closed']);
  }

  private async campaign(lane: string): Promise<boolean> {
    const bureau = this.s['xh-ajj-leader'];
    const street = this.s['xh-jd2-leader'];
    const communities = [
      { leader: this.s['xh-jd2-sq1-leader'], staff: this.s['xh-jd2-sq1-staff'] },
      { leader: this.s['xh-jd2-sq2-leader'], staff: this.s['xh-jd2-sq2-staff'] },
    ];
    const root = await this.create(lane, bureau, {
      title: '消防安全隐患排查整治',
      categoryCode: 'FIRE_HAZARD_CAMPAIGN',
      dueAt: inMs(40 * DAY),
      fundingFen: 300_000,
    });
    if (!root || this.stopped) return false;
    const streetTasks = await this.handoff(lane, bureau, root, [
      {
        assigneeOrgUnitId: unitOf(street),
        dueAt: inMs(30 * DAY),
        fundingFen: 200_000,
        grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 150_000 }],
      },
    ]);
    if (!streetTasks || this.stopped) return false;
    const [mid] = streetTasks;
    if (
      !(await this.act(lane, street, mid, 'accept', () => ({}), ['in_progress', 'submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    const leaves = await this.handoff(
      lane,
      street,
      mid,
      communities.map((c) => ({
        assigneeOrgUnitId: unitOf(c.leader),
        dueAt: inMs(20 * DAY),
        fundingFen: 50_000,
        grants: [{ powerCode: 'SAFETY_INSPECTION' }, { powerCode: 'HAZARD_FUND_USE', capFen: 40_000 }],
      })),
    );
    if (!leaves || this.stopped) return false;
    for (const [i, leaf] of leaves.entries()) {
      const c = communities[i];
      if (
        !(await this.act(lane, c.leader, leaf, 'agree', (k) => ({ terms: k }), [
          'in_progress',
          'submitted',
          'closed',
        ])) ||
        this.stopped
      )
        return false;
      if (!(await this.expense(lane, c.staff, leaf, 10_000, '灭火器采购')) || this.stopped) return false;
      await this.act(lane, c.staff, leaf, 'report-progress', (k) => ({ percent: 100, note: k }));
      if (
        !(await this.act(lane, c.leader, leaf, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
        this.stopped
      )
        return false;
      if (!(await this.act(lane, street, leaf, 'approve', (k) => ({ comment: k }), ['closed'])) || this.stopped)
        return false;
    }
    if (
      !(await this.act(lane, street, mid, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    if (!(await this.act(lane, bureau, mid, 'approve', (k) => ({ comment: k }), ['closed'])) || this.stopped)
      return false;
    if (
      !(await this.act(lane, bureau, root, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    return this.act(lane, bureau, root, 'approve', (k) => ({ comment: k }), ['closed']);
  }

  private sanitationRuns = 0;

  private async sanitation(lane: string): Promise<boolean> {
    const street = this.s['xh-jd1-leader'];
    const communities = [
      { leader: this.s['xh-jd1-sq1-leader'], staff: this.s['xh-jd1-sq1-staff'] },
      { leader: this.s['xh-jd1-sq2-leader'], staff: this.s['xh-jd1-sq2-staff'] },
    ];
    this.sanitationRuns += 1;
    const returnsOne = this.sanitationRuns % 3 === 0;
    const root = await this.create(lane, street, {
      title: '网格环境卫生清洁',
      categoryCode: 'SANITATION_GRID_CLEANING',
      dueAt: inMs(15 * DAY),
      fundingFen: 40_000,
    });
    if (!root || this.stopped) return false;
    const leaves = await this.handoff(
      lane,
      street,
      root,
      communities.map((c) => ({ assigneeOrgUnitId: unitOf(c.leader), fundingFen: 10_000, grants: [] })),
    );
    if (!leaves || this.stopped) return false;
    for (const [i, leaf] of leaves.entries()) {
      const c = communities[i];
      if (returnsOne && i === 1) {
        if (
          !(await this.act(lane, c.leader, leaf, 'return', (k) => ({ reasonCode: 'OTHER', comment: k }), [
            'returned',
          ])) ||
          this.stopped
        )
          return false;
        continue;
      }
      if (
        !(await this.act(lane, c.leader, leaf, 'accept', () => ({}), ['in_progress', 'submitted', 'closed'])) ||
        this.stopped
      )
        return false;
      await this.act(lane, c.staff, leaf, 'report-progress', (k) => ({ percent: 60, note: k }));
      await this.act(lane, c.staff, leaf, 'report-progress', (k) => ({ percent: 100, note: k }));
      if (
        !(await this.act(lane, c.leader, leaf, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
        this.stopped
      )
        return false;
      if (!(await this.act(lane, street, leaf, 'approve', (k) => ({ comment: k }), ['closed'])) || this.stopped)
        return false;
    }
    if (
      !(await this.act(lane, street, root, 'submit', (k) => ({ summary: k }), ['submitted', 'closed'])) ||
      this.stopped
    )
      return false;
    return this.act(lane, street, root, 'approve', (k) => ({ comment: k }), ['closed']);
  }

  private timerRuns = 0;

  /** A task whose timers come due within the run; every fourth is submitted at once (its timers are cancelled). */
  private async timerTask(lane: string): Promise<boolean> {
    const bureau = this.s['xh-cgj-leader'];
    const [lo, hi] = this.opts.timerDueMs;
    const dueIn = lo + Math.round(Math.random() * (hi - lo));
    if (Date.now() + dueIn > this.timerCutoff) {
      await sleep(500);
      return true;
    }
    this.timerRuns += 1;
    const id = await this.create(lane, bureau, {
      title: '垃圾分类督导（限时）',
      categoryCode: 'GARBAGE_SORTING_SUPERVISION',
      dueAt: inMs(dueIn),
      fundingFen: 0,
    });
    if (!id) return false;
    if (this.timerRuns % 4 === 0) {
      if (!(await this.act(lane, bureau, id, 'submit', (k) => ({ summary: k }), ['submitted', 'closed']))) return false;
      if (!(await this.act(lane, bureau, id, 'approve', (k) => ({ comment: k }), ['closed']))) return false;
    }
    await sleep(1000);
    return true;
  }
}

/**
 * The recovery probe: a 东风街道 task with one child at 东风社区3. `measure` reports progress on the child and
 * returns how long until the parent shows it (the worker's roll-up) — end to end: API, outbox, relay, queue, consumer.
 */
export class Probe {
  private rootId = '';
  private childId = '';
  private percent = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly s: Sessions,
  ) {}

  get parentId(): string {
    return this.rootId;
  }

  async setup(): Promise<void> {
    const street = this.s['xh-jd2-leader'];
    const community = this.s['xh-jd2-sq3-leader'];
    const key = this.api.newKey('probe');
    const root = await this.api.write(street, {
      lane: 'probe',
      method: 'POST',
      path: '/api/v1/tasks',
      route: 'create',
      body: {
        title: `恢复探针 ${key}`,
        categoryCode: 'SANITATION_GRID_CLEANING',
        dueAt: inMs(7 * DAY),
        fundingFen: 1_000,
      },
      action: 'create',
      taskId: null,
      key,
      carriesKey: true,
    });
    if (root.outcome.kind !== 'acked' || !root.record.taskId)
      throw new Error(`probe: create ${JSON.stringify(root.outcome)}`);
    this.rootId = root.record.taskId;
    const child = await this.api.write(street, {
      lane: 'probe',
      method: 'POST',
      path: `/api/v1/tasks/${this.rootId}/handoffs`,
      route: 'handoff',
      body: { handoffs: [{ assigneeOrgUnitId: community.orgUnitId, fundingFen: 1_000, grants: [] }] },
      action: 'handoff',
      taskId: this.rootId,
      carriesKey: false,
    });
    if (child.outcome.kind !== 'acked') throw new Error(`probe: handoff ${JSON.stringify(child.outcome)}`);
    this.childId = child.record.createdIds[0];
    const accept = await this.api.write(community, {
      lane: 'probe',
      method: 'POST',
      path: `/api/v1/tasks/${this.childId}/actions/accept`,
      route: 'action:accept',
      body: {},
      action: 'accept',
      taskId: this.childId,
      carriesKey: false,
    });
    if (accept.outcome.kind !== 'acked') throw new Error(`probe: accept ${JSON.stringify(accept.outcome)}`);
  }

  /**
   * Reports a new percent on the child (retried with its key until acknowledged) and waits until the parent shows it.
   * Returns the instant the parent was seen with it, or null after `timeoutMs`.
   */
  async measure(timeoutMs: number): Promise<{ ackedAt: number; appliedAt: number | null }> {
    this.percent = (this.percent % 98) + 1;
    const percent = this.percent;
    const key = this.api.newKey('probe');
    const res = await this.api.write(this.s['xh-jd2-sq3-staff'], {
      lane: 'probe',
      method: 'POST',
      path: `/api/v1/tasks/${this.childId}/actions/report-progress`,
      route: 'action:report-progress',
      body: { percent, note: key },
      action: 'report-progress',
      taskId: this.childId,
      key,
      carriesKey: true,
    });
    const ackedAt = Date.now();
    if (res.outcome.kind !== 'acked') return { ackedAt, appliedAt: null };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.api.raw('GET', `/api/v1/tasks/${this.rootId}`, {
        token: this.s['xh-jd2-leader'].token,
        route: 'probe:read',
        timeoutMs: 3000,
      });
      if (r.status === 200 && (r as { body: { progress?: number } }).body.progress === percent)
        return { ackedAt, appliedAt: Date.now() };
      await sleep(100);
    }
    return { ackedAt, appliedAt: null };
  }
}

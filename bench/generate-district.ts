/**
 * A district at working scale, for benchmarks. On a migrated and seeded database it tops the demo district up to
 * 20 streets (three sections each), 300 communities and 3,000 grids, with a leader and staff for every street,
 * section and community and a worker for every grid, then loads N tasks as handoff trees with their events.
 *
 * Trees: a department's campaign handed to streets, on to communities and down to grids; a street's own work handed
 * to its communities and grids; a community's own work handed to its grids. Every task is played through the handoff
 * workflow against the clock — created, accepted (or agreed after consultation), handed on, progress reported,
 * submitted, approved; or returned, declined, withdrawn, rejected once, cancelled — so states, counters, versions,
 * closing times and events agree: trees started months ago are closed, recent ones are open, some work is late and
 * a few old campaigns still have an overdue straggler. Org units and paths are built the way the seed builds them;
 * task paths, root and parent links the way a handoff writes them. Every event carries a valid hash chain.
 *
 * Speed: rows stream through LOAD DATA LOCAL INFILE in chunks, in primary-key order, while the next chunk is being
 * generated; the task table's secondary indexes (random inserts into each) are dropped for the load and rebuilt by
 * one ALTER afterwards, from their own definitions (SHOW CREATE TABLE). Events and accounts arrive in key order.
 * No money moves: each task gets its escrow account at a zero balance and no ledger entry, so the ledger invariants
 * hold. No grants, timers, notifications or outbox rows are written.
 *
 * Standalone, after the build, on a migrated and seeded scratch database:
 *   node dist/bench/generate-district.js --url=mariadb://root@127.0.0.1:3306/<db> --tasks=1000000 [--seed=1]
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createConnection, type Connection } from 'mysql2/promise';
import { newId } from '@gridflow/common';
import { eventHash, GENESIS_HASH } from '../libs/domain/src/tasks/event-chain.js';

export interface GenerateOptions {
  /** The database to fill: migrated and seeded, with no task yet loaded by another generator run. */
  url: string;
  tasks: number;
  /** Seed of the shape of the district's work (which units, which states, which times). */
  seed?: number;
  now?: Date;
  /** Progress lines (default: stderr). */
  log?: (msg: string) => void;
}

export interface GenerateReport {
  orgUnitsCreated: number;
  usersCreated: number;
  tasks: number;
  events: number;
  openTasks: number;
  overdueTasks: number;
  ms: number;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** How far back the oldest generated task was created. */
const HISTORY_MS = 180 * DAY;
const STREETS = 20;
const SECTIONS_PER_STREET = 3;
const COMMUNITIES_PER_STREET = 15;
const GRIDS_PER_COMMUNITY = 10;
/** Tasks per LOAD DATA round (events and escrow accounts follow their tasks). */
const CHUNK_TASKS = 25_000;
/** A MySQL packet carries at most 16 MiB: the load stream hands the server pieces of 4 MiB. */
const PIECE_BYTES = 4 * 1024 * 1024;
/** Room kept free for the next line (the longest, a handoff event to 20 streets, is a few KiB). */
const LINE_ROOM = 64 * 1024;

const STREET_NAMES = [
  '新华',
  '东风',
  '长安',
  '建设',
  '友谊',
  '和平',
  '胜利',
  '解放',
  '光明',
  '人民',
  '中华',
  '北苑',
  '南湖',
  '西城',
  '东城',
  '青年',
  '育才',
  '振兴',
  '民主',
  '团结',
];
const COMMUNITY_NAMES = [
  '朝阳',
  '向阳',
  '建设',
  '红旗',
  '光明',
  '和平',
  '幸福',
  '康宁',
  '华园',
  '春晖',
  '丽景',
  '翠苑',
  '锦绣',
  '阳光',
  '馨园',
];
const SECTION_NAMES = ['党政办公室', '平安建设办公室', '城市管理办公室'];
const RETURN_REASONS = [
  'NOT_OUR_DUTY',
  'INSUFFICIENT_FUNDS',
  'INSUFFICIENT_AUTHORITY',
  'UNREALISTIC_DEADLINE',
  'DUPLICATE',
];

interface Unit {
  id: string;
  code: string;
  name: string;
  kind: string;
  parentId: string | null;
  path: string;
  depth: number;
  /** Who acts for the unit in events: its leader (a grid: its worker). */
  actorId: string;
  /** The units this one hands work to. */
  lower: Unit[];
}

interface Category {
  code: string;
  name: string;
  ownerId: string;
  onAccessList: boolean;
}

interface Ev {
  action: string;
  from: string | null;
  to: string;
  actor: Unit;
  payload: Record<string, unknown>;
  at: number;
}

interface Task {
  id: string;
  title: string;
  category: Category;
  owner: Unit;
  assignee: Unit;
  parent: Task | null;
  rootId: string;
  depth: number;
  createdAt: number;
  dueAt: number;
  state: string;
  isOpen: boolean;
  progress: number;
  returnCount: number;
  rejectionCount: number;
  closedAt: number | null;
  events: Ev[];
  children: Task[];
}

/** Small fast seeded PRNG (mulberry32): the same seed gives the same district shape. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const days = new Map<number, string>();
/** `YYYY-MM-DD hh:mm:ss.mmm` (UTC), the DATETIME(3) text LOAD DATA reads; millions of calls, so days are cached. */
function sqlTime(ms: number): string {
  const day = Math.floor(ms / DAY);
  let date = days.get(day);
  if (date === undefined) days.set(day, (date = new Date(day * DAY).toISOString().slice(0, 10)));
  const r = ms - day * DAY;
  return `${date} ${pad(Math.floor(r / HOUR), 2)}:${pad(Math.floor(r / 60_000) % 60, 2)}:${pad(Math.floor(r / 1000) % 60, 2)}.${pad(r % 1000, 3)}`;
}

/** Ids in `newId`'s format (time-ordered UUID v7, the time being when the task was made), from a pool of random bytes. */
class IdMaker {
  private pool = Buffer.alloc(0);
  private at = 0;

  make(ms: number): string {
    if (this.at + 10 > this.pool.length) {
      this.pool = randomBytes(10 * 16_384);
      this.at = 0;
    }
    const r = this.pool.toString('hex', this.at, (this.at += 10));
    const t = Math.floor(ms).toString(16).padStart(12, '0');
    const variant = ((parseInt(r[3], 16) & 3) | 8).toString(16);
    return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(8, 20)}`;
  }
}
const NULL = '\\N';
/** A text field of a LOAD DATA line: backslash, tab and line breaks escaped. */
const tsv = (v: string): string =>
  /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
    : v;

/**
 * LOAD DATA text written straight into buffers, field by field: building a string per line and encoding it
 * afterwards costs several times more on millions of lines.
 */
class Rows {
  readonly pieces: Buffer[] = [];
  count = 0;
  private buf = Buffer.allocUnsafe(PIECE_BYTES);
  private at = 0;

  /** Appends text to the current line (ASCII or UTF-8). */
  put(text: string): this {
    const n = this.buf.write(text, this.at);
    if (this.at + n > PIECE_BYTES - 4) throw new Error('A LOAD DATA line is longer than the room kept for it');
    this.at += n;
    return this;
  }

  /** Ends the current line; starts a new piece when the room for the next one runs short. */
  end(): void {
    this.put('\n');
    this.count++;
    if (this.at > PIECE_BYTES - LINE_ROOM) this.cut();
  }

  done(): this {
    if (this.at) this.cut();
    return this;
  }

  private cut(): void {
    this.pieces.push(this.buf.subarray(0, this.at));
    this.buf = Buffer.allocUnsafe(PIECE_BYTES);
    this.at = 0;
  }
}

/** Streams rows to the server through LOAD DATA LOCAL INFILE. */
async function loadData(conn: Connection, table: string, columns: string[], rows: Rows): Promise<void> {
  if (!rows.count) return;
  const { pieces } = rows.done();
  const [res] = await conn.query({
    sql:
      `LOAD DATA LOCAL INFILE '${table}.tsv' INTO TABLE \`${table}\` CHARACTER SET utf8mb4 ` +
      `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${columns.map((c) => `\`${c}\``).join(', ')})`,
    infileStreamFactory: () => Readable.from(pieces),
  });
  const { affectedRows, warningStatus } = res as { affectedRows: number; warningStatus: number };
  if (affectedRows !== rows.count || warningStatus) {
    const [warnings] = await conn.query('SHOW WARNINGS LIMIT 5');
    throw new Error(
      `LOAD DATA into ${table}: ${affectedRows} of ${rows.count} rows, warnings ${JSON.stringify(warnings)}`,
    );
  }
}

async function insertRows(conn: Connection, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000);
    const one = `(${columns.map(() => '?').join(', ')})`;
    await conn.query(
      `INSERT INTO \`${table}\` (${columns.join(', ')}) VALUES ${part.map(() => one).join(', ')}`,
      part.flat(),
    );
  }
}

/**
 * Tops the seeded district up to 20 streets × 15 communities × 10 grids (and three sections per street), with
 * users named like the seed's (`<code>-leader`, `<code>-staff`, `<code>-worker`), all with the seed's password.
 */
async function buildOrg(conn: Connection): Promise<{
  district: Unit;
  departments: Unit[];
  streets: Unit[];
  communities: Unit[];
  created: number;
  usersCreated: number;
}> {
  const [rows] = (await conn.query(
    'SELECT id, code, name, kind, parent_id AS parentId, path, depth FROM org_units',
  )) as unknown as [Omit<Unit, 'actorId' | 'lower'>[]];
  const byCode = new Map<string, Unit>(
    rows.map((r) => [r.code, { ...r, depth: Number(r.depth), actorId: '', lower: [] }]),
  );
  const districtRow = rows.find((r) => r.kind === 'district' && Number(r.depth) === 0);
  if (!districtRow) throw new Error('No district in org_units: run the migrations and the seed first');
  const district = byCode.get(districtRow.code)!;
  const [[hashRow]] = (await conn.query(
    "SELECT password_hash AS hash FROM users WHERE username LIKE '%-leader' ORDER BY username LIMIT 1",
  )) as unknown as [{ hash: string }[]];
  if (!hashRow) throw new Error('No seeded leader: run the seed first');

  const newUnits: Unit[] = [];
  const ensure = (code: string, name: string, kind: string, parent: Unit): Unit => {
    const found = byCode.get(code);
    if (found) return found;
    const id = newId();
    const unit: Unit = {
      id,
      code,
      name,
      kind,
      parentId: parent.id,
      path: `${parent.path}${id}/`,
      depth: parent.depth + 1,
      actorId: '',
      lower: [],
    };
    byCode.set(code, unit);
    newUnits.push(unit);
    return unit;
  };
  const streets: Unit[] = [];
  const communities: Unit[] = [];
  for (let s = 1; s <= STREETS; s++) {
    const street = ensure(
      `${district.code}-jd${s}`,
      `${STREET_NAMES[(s - 1) % STREET_NAMES.length]}街道办事处`,
      'street',
      district,
    );
    streets.push(street);
    for (let k = 1; k <= SECTIONS_PER_STREET; k++)
      ensure(`${street.code}-ks${k}`, SECTION_NAMES[(k - 1) % SECTION_NAMES.length], 'section', street);
    for (let c = 1; c <= COMMUNITIES_PER_STREET; c++) {
      const community = ensure(
        `${street.code}-sq${c}`,
        `${STREET_NAMES[(s - 1) % STREET_NAMES.length]}${COMMUNITY_NAMES[(c - 1) % COMMUNITY_NAMES.length]}社区`,
        'community',
        street,
      );
      communities.push(community);
      street.lower.push(community);
      for (let g = 1; g <= GRIDS_PER_COMMUNITY; g++)
        community.lower.push(ensure(`${community.code}-wg${g}`, `${community.name}第${g}网格`, 'grid', community));
    }
  }
  const departments = [...byCode.values()].filter((u) => u.kind === 'department' && u.parentId === district.id);
  for (const d of departments) d.lower = streets;
  await insertRows(
    conn,
    'org_units',
    ['id', 'code', 'name', 'kind', 'parent_id', 'path', 'depth'],
    newUnits.map((u) => [u.id, u.code, u.name, u.kind, u.parentId, u.path, u.depth]),
  );

  const [existing] = (await conn.query('SELECT username FROM users')) as unknown as [{ username: string }[]];
  const taken = new Set(existing.map((u) => u.username));
  const users: unknown[][] = [];
  for (const u of [
    ...streets,
    ...communities,
    ...[...byCode.values()].filter((x) => x.kind === 'section' || x.kind === 'grid'),
  ]) {
    const people: [string, string, string][] =
      u.kind === 'grid'
        ? [['worker', '网格员', 'grid_worker']]
        : [
            ['leader', '负责人', 'leader'],
            ['staff', '工作人员', 'staff'],
          ];
    for (const [suffix, title, role] of people) {
      const username = `${u.code}-${suffix}`;
      if (!taken.has(username)) users.push([newId(), username, `${u.name}${title}`, u.id, role, hashRow.hash]);
    }
  }
  await insertRows(conn, 'users', ['id', 'username', 'display_name', 'org_unit_id', 'roles', 'password_hash'], users);

  const [actors] = (await conn.query(
    "SELECT id, org_unit_id AS unitId, roles FROM users WHERE disabled = 0 AND (FIND_IN_SET('leader', roles) OR FIND_IN_SET('grid_worker', roles)) ORDER BY username",
  )) as unknown as [{ id: string; unitId: string; roles: string }[]];
  const byId = new Map([...byCode.values()].map((u) => [u.id, u]));
  for (const a of actors) {
    const unit = byId.get(a.unitId);
    if (unit && !unit.actorId) unit.actorId = a.id;
  }
  const missing = [district, ...departments, ...streets, ...communities, ...communities.flatMap((c) => c.lower)].filter(
    (u) => !u.actorId,
  );
  if (missing.length)
    throw new Error(
      `No leader or grid worker for ${missing
        .slice(0, 5)
        .map((u) => u.code)
        .join(', ')}`,
    );
  return { district, departments, streets, communities, created: newUnits.length, usersCreated: users.length };
}

/**
 * Plays tasks through the handoff workflow against the clock, tree by tree. Times are whole milliseconds; event
 * payloads are built with their keys in canonical (sorted) order, so their JSON is the text the hash covers.
 */
class TreeSimulator {
  private readonly ids = new IdMaker();

  constructor(
    private readonly rnd: () => number,
    private readonly now: number,
  ) {}

  private between(lo: number, hi: number): number {
    return Math.floor(lo + this.rnd() * (hi - lo));
  }

  private pickSome<T>(items: T[], allChance: number): T[] {
    if (this.rnd() < allChance) return items;
    const n = 1 + Math.floor(this.rnd() * items.length);
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.rnd() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, n);
  }

  /**
   * One tree: a unit's own task, handed down as far as the clock allows. Some campaigns whose time is long past
   * keep a few stragglers open (and so their ancestors too).
   */
  tree(owner: Unit, category: Category, title: string, createdAt: number, dueAt: number): Task[] {
    const id = this.ids.make(createdAt);
    const root = this.task({
      id,
      title,
      category,
      owner,
      assignee: owner,
      parent: null,
      rootId: id,
      depth: 0,
      createdAt,
      dueAt: Math.floor(dueAt),
    });
    const straggler = { left: dueAt < this.now - 14 * DAY && this.rnd() < 0.15 ? 3 : 0 };
    this.play(root, straggler);
    const out: Task[] = [];
    const walk = (t: Task) => {
      out.push(t);
      t.children.forEach(walk);
    };
    walk(root);
    return out;
  }

  private task(
    t: Pick<
      Task,
      'id' | 'title' | 'category' | 'owner' | 'assignee' | 'parent' | 'rootId' | 'depth' | 'createdAt' | 'dueAt'
    >,
  ): Task {
    return {
      ...t,
      state: '',
      isOpen: true,
      progress: 0,
      returnCount: 0,
      rejectionCount: 0,
      closedAt: null,
      events: [],
      children: [],
    };
  }

  private event(
    t: Task,
    action: string,
    to: string,
    actor: Unit,
    at: number,
    payload: Record<string, unknown> = {},
  ): void {
    t.events.push({ action, from: t.state || null, to, actor, payload, at });
    t.state = to;
  }

  private close(t: Task, at: number): void {
    t.isOpen = false;
    t.closedAt = at;
  }

  private play(t: Task, straggler: { left: number }): void {
    const consult = t.parent !== null && t.assignee.kind === 'community' && !t.category.onAccessList;
    const entry = t.parent === null ? 'in_progress' : consult ? 'in_consultation' : 'pending_acceptance';
    const createPayload =
      t.parent === null
        ? { categoryCode: t.category.code, dueAt: new Date(t.dueAt).toISOString(), fundingFen: 0, title: t.title }
        : { fundingFen: 0, grants: [], parentId: t.parent.id };
    this.event(t, 'create', entry, t.owner, t.createdAt, createPayload);
    let started = t.createdAt;
    if (entry !== 'in_progress') {
      const answerAt = t.createdAt + this.between(HOUR, 2 * DAY);
      if (answerAt > this.now) return;
      const r = this.rnd();
      if (r < 0.03) {
        if (consult) this.event(t, 'decline', 'returned', t.assignee, answerAt, { reason: '不在社区工作准入清单内' });
        else {
          this.event(t, 'return', 'returned', t.assignee, answerAt, {
            reasonCode: RETURN_REASONS[Math.floor(this.rnd() * RETURN_REASONS.length)],
          });
          t.returnCount = 1;
        }
        return this.close(t, answerAt);
      }
      if (r < 0.04) {
        this.event(t, 'withdraw', 'withdrawn', t.owner, answerAt, { comment: '任务调整，撤回重派' });
        return this.close(t, answerAt);
      }
      this.event(
        t,
        consult ? 'agree' : 'accept',
        'in_progress',
        t.assignee,
        answerAt,
        consult ? { terms: '按协商意见承接' } : {},
      );
      started = answerAt;
    }

    const handoffAt = started + this.between(HOUR, DAY);
    if (t.assignee.lower.length && handoffAt < this.now && handoffAt < t.dueAt - 2 * DAY && this.rnd() < 0.92) {
      const receivers = this.pickSome(t.assignee.lower, t.assignee.kind === 'community' ? 0.4 : 0.3);
      receivers.forEach((receiver, i) => {
        const createdAt = handoffAt + i;
        const dueAt = t.dueAt - Math.floor(this.rnd() * 0.15 * (t.dueAt - handoffAt));
        t.children.push(
          this.task({
            id: this.ids.make(createdAt),
            title: t.title,
            category: t.category,
            owner: t.assignee,
            assignee: receiver,
            parent: t,
            rootId: t.rootId,
            depth: t.depth + 1,
            createdAt,
            dueAt,
          }),
        );
      });
      const childEntry = t.category.onAccessList ? 'pending_acceptance' : 'in_consultation';
      const children = t.children.map((c) => ({
        assigneeOrgUnitId: c.assignee.id,
        fundingFen: 0,
        state: c.assignee.kind === 'community' ? childEntry : 'pending_acceptance',
        taskId: c.id,
      }));
      this.event(t, 'handoff', 'in_progress', t.assignee, handoffAt, { children, fundingFen: 0 });
      for (const c of t.children) this.play(c, straggler);
    }

    let doneAt: number;
    if (t.children.length) {
      doneAt = t.children.some((c) => c.isOpen)
        ? Infinity
        : Math.max(...t.children.map((c) => c.closedAt!)) + this.between(2 * HOUR, 2 * DAY);
    } else if (straggler.left > 0 && this.rnd() < 0.1) {
      straggler.left--;
      doneAt = Infinity;
    } else {
      // most work is done in time, some of it late
      doneAt = started + Math.floor(Math.max(t.dueAt - started, DAY) * (0.35 + this.rnd() * 0.95));
    }
    const lastAt = t.events[t.events.length - 1].at;
    const reportAt = lastAt + Math.floor((Math.min(doneAt, this.now) - lastAt) / 2);
    if (this.rnd() < 0.5 && reportAt < this.now) {
      const percent = t.children.length
        ? 50
        : Math.min(90, Math.max(10, Math.round((100 * (reportAt - started)) / Math.max(1, t.dueAt - started))));
      this.event(t, 'report-progress', 'in_progress', t.assignee, reportAt, { note: '按计划推进', percent });
      t.progress = percent;
    }
    if (doneAt > this.now) return;
    if (!t.children.length && t.parent && this.rnd() < 0.005) {
      this.event(t, 'cancel', 'cancelled', t.owner, doneAt, { reason: '上级部署调整' });
      return this.close(t, doneAt);
    }
    this.event(t, 'submit', 'submitted', t.assignee, doneAt, { summary: '已按要求办结，材料已上传' });
    t.progress = 100;
    let approveAt = doneAt + this.between(2 * HOUR, 3 * DAY);
    if (approveAt < this.now && this.rnd() < 0.05) {
      this.event(t, 'reject', 'in_progress', t.owner, approveAt, { comment: '整改不到位，请补充现场照片' });
      t.rejectionCount = 1;
      const again = approveAt + this.between(DAY, 3 * DAY);
      if (again > this.now) return;
      this.event(t, 'submit', 'submitted', t.assignee, again, { summary: '已补充整改材料' });
      approveAt = again + this.between(2 * HOUR, 2 * DAY);
    }
    if (approveAt > this.now) return;
    this.event(t, 'approve', 'closed', t.owner, approveAt, {});
    this.close(t, approveAt);
  }
}

const TASK_COLUMNS = [
  'id',
  'title',
  'category_code',
  'owner_org_unit_id',
  'assignee_org_unit_id',
  'owner_path',
  'assignee_path',
  'parent_id',
  'root_id',
  'depth',
  'state',
  'is_open',
  'progress',
  'due_at',
  'workflow_key',
  'workflow_version',
  'version',
  'return_count',
  'rejection_count',
  'escalation_level',
  'overdue_since',
  'children_total',
  'children_open',
  'children_closed',
  'children_returned',
  'children_overdue',
  'created_by',
  'created_at',
  'updated_at',
  'closed_at',
  'last_event_seq',
  'last_event_hash',
];
const EVENT_COLUMNS = [
  'task_id',
  'seq',
  'action',
  'from_state',
  'to_state',
  'actor_user_id',
  'actor_org_unit_id',
  'payload',
  'at',
  'hash',
  'prev_hash',
];
const ACCOUNT_COLUMNS = ['id', 'kind', 'task_id', 'balance_fen', 'may_go_negative'];
const GONE = new Set(['returned', 'withdrawn', 'cancelled']);
/** Every this many events, the fast hash below is checked against the app's own `eventHash`. */
const HASH_CHECK_EVERY = 1009;

/**
 * The hash of an event, as `eventHash` computes it, over the canonical JSON written out directly (ids, states and
 * actions need no escaping; the payload's keys are already in canonical order).
 */
function fastEventHash(taskId: string, seq: number, e: Ev, payloadJson: string, iso: string, prev: string): string {
  const from = e.from === null ? 'null' : `"${e.from}"`;
  const body = `{"action":"${e.action}","actorOrgUnitId":"${e.actor.id}","actorUserId":"${e.actor.actorId}","at":"${iso}","fromState":${from},"payload":${payloadJson},"seq":${seq},"taskId":"${taskId}","toState":"${e.to}"}`;
  return createHash('sha256').update(prev).update(body).digest('hex');
}

/** Rows of one chunk of tasks, in primary-key order, ready for LOAD DATA. */
function encodeChunk(
  tasks: Task[],
  now: number,
  workflowVersion: number,
): { tasks: Rows; events: Rows; accounts: Rows; open: number; overdue: number } {
  tasks.sort((a, b) => (a.id < b.id ? -1 : 1));
  const out = { tasks: new Rows(), events: new Rows(), accounts: new Rows(), open: 0, overdue: 0 };
  let counted = 0;
  for (const t of tasks) {
    const overdue = t.isOpen && t.dueAt < now;
    if (t.isOpen) out.open++;
    if (overdue) out.overdue++;
    // overdue work was found by the deadline timer (in progress: escalated once) or the sweeper
    const overdueSince = overdue ? sqlTime(t.dueAt + (t.id.charCodeAt(35) % 10) * 60_000) : NULL;
    let open = 0;
    let closed = 0;
    let returned = 0;
    let late = 0;
    let live = 0;
    let liveProgress = 0;
    for (const c of t.children) {
      if (c.isOpen) open++;
      if (c.state === 'closed') closed++;
      if (c.state === 'returned' || c.state === 'withdrawn') returned++;
      if (c.isOpen && c.dueAt < now) late++;
      if (!GONE.has(c.state)) {
        live++;
        liveProgress += c.progress;
      }
    }
    const progress = t.isOpen && live ? Math.round(liveProgress / live) : t.progress;
    const last = t.events[t.events.length - 1];
    const closedAt = t.closedAt === null ? NULL : sqlTime(t.closedAt);
    // the events first: the task row carries its chain's head (the last event's seq and hash)
    let prev = GENESIS_HASH;
    for (let i = 0; i < t.events.length; i++) {
      const e = t.events[i];
      const seq = i + 1;
      const at = sqlTime(e.at);
      const payloadJson = JSON.stringify(e.payload);
      const hash = fastEventHash(t.id, seq, e, payloadJson, `${at.replace(' ', 'T')}Z`, prev);
      if (++counted % HASH_CHECK_EVERY === 1) {
        const expected = eventHash(
          {
            taskId: t.id,
            seq,
            action: e.action,
            fromState: e.from,
            toState: e.to,
            actorUserId: e.actor.actorId,
            actorOrgUnitId: e.actor.id,
            payload: e.payload,
            at: new Date(e.at),
          },
          prev,
        );
        if (hash !== expected)
          throw new Error(
            `event hash of ${t.id}#${seq} differs from eventHash: the generator's canonical JSON is out of date`,
          );
      }
      out.events
        .put(`${t.id}\t${seq}\t${e.action}\t${e.from ?? NULL}\t${e.to}\t${e.actor.actorId}\t${e.actor.id}\t`)
        .put(tsv(payloadJson))
        .put(`\t${at}\t${hash}\t${prev}`)
        .end();
      prev = hash;
    }
    out.tasks
      .put(`${t.id}\t`)
      .put(tsv(t.title))
      .put(
        `\t${t.category.code}\t${t.owner.id}\t${t.assignee.id}\t${t.owner.path}\t${t.assignee.path}\t${t.parent?.id ?? NULL}\t${t.rootId}\t${t.depth}\t`,
      )
      .put(
        `${t.state}\t${t.isOpen ? 1 : 0}\t${progress}\t${sqlTime(t.dueAt)}\thandoff\t${workflowVersion}\t${t.events.length}\t${t.returnCount}\t${t.rejectionCount}\t`,
      )
      .put(
        `${overdue && t.state === 'in_progress' ? 1 : 0}\t${overdueSince}\t${t.children.length}\t${open}\t${closed}\t${returned}\t${late}\t${t.owner.actorId}\t`,
      )
      .put(`${sqlTime(t.createdAt)}\t${sqlTime(last.at)}\t${closedAt}\t${t.events.length}\t${prev}`)
      .end();
    out.accounts.put(`task-${t.id}\tescrow\t${t.id}\t0\t0`).end();
  }
  return out;
}

/** Drops the non-unique secondary indexes of a table; returns the ALTER statement that puts them back as they were. */
async function dropSecondaryIndexes(conn: Connection, table: string): Promise<string[]> {
  const [[row]] = (await conn.query(`SHOW CREATE TABLE \`${table}\``)) as unknown as [Record<string, string>[]];
  const keys = row['Create Table']
    .split('\n')
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.startsWith('KEY '));
  if (keys.length)
    await conn.query(
      `ALTER TABLE \`${table}\` ${keys.map((k) => `DROP KEY ${/^KEY (`[^`]+`)/.exec(k)![1]}`).join(', ')}`,
    );
  return keys.length ? [`ALTER TABLE \`${table}\` ${keys.map((k) => `ADD ${k}`).join(', ')}`] : [];
}

/** Generates the district and its work into `opts.url`. */
export async function generateDistrict(opts: GenerateOptions): Promise<GenerateReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[generate] ${m}\n`));
  if (!Number.isSafeInteger(opts.tasks) || opts.tasks < 1) throw new Error('--tasks must be a positive integer');
  const started = Date.now();
  const now = (opts.now ?? new Date()).getTime();
  const rnd = prng(opts.seed ?? 1);
  const open = () => createConnection({ uri: opts.url, timezone: 'Z', dateStrings: true, multipleStatements: false });
  const conns = await Promise.all([open(), open(), open()]);
  const [main] = conns;
  let restoreIndexes: string[] = [];
  try {
    for (const c of conns) await c.query('SET SESSION unique_checks = 0, foreign_key_checks = 0, time_zone = "+00:00"');
    const org = await buildOrg(main);
    log(
      `org: ${org.created} units and ${org.usersCreated} users created (${org.streets.length} streets, ${org.communities.length} communities, ${org.communities.length * GRIDS_PER_COMMUNITY} grids)`,
    );
    const [[wf]] = (await main.query(
      "SELECT MAX(version) AS v FROM workflow_versions WHERE workflow_key = 'handoff'",
    )) as unknown as [{ v: number | null }[]];
    if (!wf?.v) throw new Error('The handoff workflow is not published: run the seed first');
    const [cats] = (await main.query(
      "SELECT code, name, owner_org_unit_id AS ownerId, on_community_access_list AS onAccessList FROM categories WHERE workflow_key = 'handoff' ORDER BY code",
    )) as unknown as [Category[]];
    const [duties] = (await main.query(
      "SELECT scope_value AS kind, category_code AS code FROM duties WHERE scope = 'kind'",
    )) as unknown as [{ kind: string; code: string }[]];
    const categories = cats.map((c) => ({ ...c, onAccessList: Boolean(Number(c.onAccessList)) }));
    const dutyOf = (kind: string) => categories.filter((c) => duties.some((d) => d.kind === kind && d.code === c.code));
    const campaigns = org.departments
      .map((d) => ({ dept: d, cats: categories.filter((c) => c.ownerId === d.id) }))
      .filter((x) => x.cats.length);
    if (!campaigns.length) throw new Error('No department owns a handoff category: run the seed first');
    const streetCats = dutyOf('street').length ? dutyOf('street') : categories;
    const communityCats = dutyOf('community').length ? dutyOf('community') : categories;

    restoreIndexes = await dropSecondaryIndexes(main, 'tasks');
    const sim = new TreeSimulator(rnd, now);
    const pick = <T>(items: T[]): T => items[Math.floor(rnd() * items.length)];
    const firstAt = now - HISTORY_MS;
    let made = 0;
    let events = 0;
    let openTasks = 0;
    let overdueTasks = 0;
    let batch = 1;
    let chunk: Task[] = [];
    let loading: Promise<unknown> = Promise.resolve();
    const flush = async () => {
      const rows = encodeChunk(chunk, now, wf.v!);
      chunk = [];
      events += rows.events.count;
      openTasks += rows.open;
      overdueTasks += rows.overdue;
      await loading;
      loading = Promise.all([
        loadData(conns[0], 'tasks', TASK_COLUMNS, rows.tasks),
        loadData(conns[1], 'task_events', EVENT_COLUMNS, rows.events),
        loadData(conns[2], 'accounts', ACCOUNT_COLUMNS, rows.accounts),
      ]);
      log(
        `${made.toLocaleString('en-US')} / ${opts.tasks.toLocaleString('en-US')} tasks, ${events.toLocaleString('en-US')} events (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
    };
    while (made < opts.tasks) {
      // work arrives at an even pace over the history: the clock follows the count of tasks made
      const createdAt = Math.floor(firstAt + (HISTORY_MS - 2 * HOUR) * (made / opts.tasks));
      const r = rnd();
      let tree: Task[];
      if (r < 0.45) {
        const { dept, cats: own } = pick(campaigns);
        const cat = pick(own);
        tree = sim.tree(dept, cat, `${cat.name}（第${batch++}批）`, createdAt, createdAt + (14 + rnd() * 76) * DAY);
      } else if (r < 0.85) {
        const street = pick(org.streets);
        const cat = pick(streetCats);
        tree = sim.tree(
          street,
          cat,
          `${street.name}${cat.name}（第${batch++}批）`,
          createdAt,
          createdAt + (10 + rnd() * 50) * DAY,
        );
      } else {
        const community = pick(org.communities);
        const cat = pick(communityCats);
        tree = sim.tree(
          community,
          cat,
          `${community.name}${cat.name}（第${batch++}批）`,
          createdAt,
          createdAt + (7 + rnd() * 23) * DAY,
        );
      }
      // the last tree is cut to the count asked for: parents come before their children, so links hold
      if (made + tree.length > opts.tasks) {
        tree = tree.slice(0, opts.tasks - made);
        const kept = new Set(tree);
        for (const t of tree) t.children = t.children.filter((c) => kept.has(c));
      }
      made += tree.length;
      chunk.push(...tree);
      if (chunk.length >= CHUNK_TASKS) {
        await flush();
        await new Promise((r) => setImmediate(r));
      }
    }
    if (chunk.length) await flush();
    await loading;
    const t0 = Date.now();
    log('rebuilding the indexes of tasks');
    for (const alter of restoreIndexes.splice(0)) await main.query(alter);
    await main.query('ANALYZE TABLE tasks, task_events, accounts');
    log(`indexes rebuilt and analysed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const ms = Date.now() - started;
    log(
      `done: ${made.toLocaleString('en-US')} tasks (${openTasks.toLocaleString('en-US')} open, ${overdueTasks.toLocaleString('en-US')} overdue), ${events.toLocaleString('en-US')} events in ${(ms / 1000).toFixed(1)} s`,
    );
    return {
      orgUnitsCreated: org.created,
      usersCreated: org.usersCreated,
      tasks: made,
      events,
      openTasks,
      overdueTasks,
      ms,
    };
  } finally {
    for (const alter of restoreIndexes) await main.query(alter).catch(() => undefined);
    await Promise.all(conns.map((c) => c.end()));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const url = arg('url') ?? process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'usage: node dist/bench/generate-district.js --url=mariadb://root@127.0.0.1:3306/<db> --tasks=1000000 [--seed=1]',
    );
    process.exit(2);
  }
  generateDistrict({ url, tasks: Number(arg('tasks') ?? 100_000), seed: Number(arg('seed') ?? 1) })
    .then((r) => console.log(JSON.stringify(r)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { AccountEntity, GrantEntity, hydrate, selectList, TaskEntity, TaskEventEntity } from '@gridflow/persistence';
import { NotFoundError } from '@gridflow/common';
import { taskAccountId } from '../ledger/ledger.service.js';
import { verifyChain } from './event-chain.js';
import { TaskShell } from './task-shell.service.js';
import { taskVisibleTo } from './task-paths.js';

export type TaskListView = 'inbox' | 'issued' | 'all';

/** Below this many tasks under a caller's unit, `all` sorts them by index; from it on, it walks tasks in due order. */
const SORTED_SUBTREE_LIMIT = 10_000;
const SUBTREE_SIZE_TTL_MS = 10 * 60_000;

export interface TaskListFilter {
  view: TaskListView;
  state?: string;
  categoryCode?: string;
  overdue?: boolean;
  limit: number;
  after?: { dueAt: string; id: string };
}

export interface TaskWithBalance {
  task: TaskEntity;
  escrowBalanceFen: number;
}

/** One statement of a list page: its SQL and its parameters. */
export interface ListQuery {
  sql: string;
  params: unknown[];
}

/** The columns of a list's rows: the task's under alias `t` (as `hydrate` reads them) and its escrow balance. */
const listColumns = (em: EntityManager): string => `${selectList(em, TaskEntity, 't')}, a.balance_fen AS escrow_balance_fen`;
const BALANCE_JOIN = "LEFT JOIN accounts a ON a.id = CONCAT('task-', t.id)";

/** The index hint for `indexes` (names this code chose and the table has), or none. */
const useIndex = (indexes: string[]): string => (indexes.length ? ` USE INDEX (${indexes.join(', ')})` : '');

/** The list's filters, the cursor, the (due_at, id) order and the page size, on alias `x`, to follow a WHERE. */
function paged(x: string, f: TaskListFilter, now: Date): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  if (f.state) {
    sql += ` AND ${x}.state = ?`;
    params.push(f.state);
  }
  if (f.categoryCode) {
    sql += ` AND ${x}.category_code = ?`;
    params.push(f.categoryCode);
  }
  if (f.overdue === true) {
    sql += ` AND ${x}.is_open = 1 AND ${x}.due_at < ?`;
    params.push(now);
  }
  if (f.overdue === false) {
    sql += ` AND (${x}.is_open = 0 OR ${x}.due_at >= ?)`;
    params.push(now);
  }
  if (f.after) {
    // the first conjunct lets the index range start at the cursor; the second skips the cursor's own row
    const at = new Date(f.after.dueAt);
    sql += ` AND ${x}.due_at >= ? AND (${x}.due_at > ? OR ${x}.id > ?)`;
    params.push(at, at, f.after.id);
  }
  return { sql: `${sql} ORDER BY ${x}.due_at ASC, ${x}.id ASC LIMIT ${f.limit + 1}`, params };
}

/** One list statement: its columns, the list's filter and cursor, the index hint, and its own condition. */
interface ListStatement {
  select: string;
  f: TaskListFilter;
  now: Date;
  indexes: string[];
  where: string;
  params: unknown[];
}

/** A page of tasks (with their escrow balance) matching `where` on alias `t`, read through `indexes`. */
function pageQuery({ select, f, now, indexes, where, params }: ListStatement): ListQuery {
  const page = paged('t', f, now);
  return {
    sql: `SELECT ${select} FROM tasks t${useIndex(indexes)} ${BALANCE_JOIN} WHERE ${where}${page.sql}`,
    params: [...params, ...page.params],
  };
}

/**
 * A page whose ids come from a covering index alone (`where` on alias `s`), sorted there, then joined to their
 * rows: only the page's rows are read.
 */
function sortedByIndexQuery({ select, f, now, indexes, where, params }: ListStatement): ListQuery {
  const page = paged('s', f, now);
  const ids = `SELECT s.id FROM tasks s${useIndex(indexes)} WHERE ${where}${page.sql}`;
  return {
    sql: `SELECT ${select} FROM tasks t ${BALANCE_JOIN} INNER JOIN (${ids}) k ON k.id = t.id ORDER BY t.due_at ASC, t.id ASC`,
    params: [...params, ...page.params],
  };
}

/** The escrow balance (0 for an account not created yet) and the grants of rows joined as `a` and `g`. */
function moneyAndGrants(
  em: EntityManager,
  rows: Record<string, unknown>[],
): { escrowBalanceFen: number; grants: GrantEntity[] } {
  const account = rows.length ? hydrate(em, AccountEntity, rows[0], 'a') : null;
  const grants = rows.map((r) => hydrate(em, GrantEntity, r, 'g')).filter((g): g is GrantEntity => g !== null);
  return { escrowBalanceFen: account?.balanceFen ?? 0, grants };
}

/** Scoped reads of tasks: lists with keyset pages, details, history. */
@Injectable()
export class TaskReader {
  private readonly subtreeSizes = new Map<string, { large: boolean; until: number }>();
  private indexNames?: Promise<Set<string>>;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
  ) {}

  /**
   * One page of a list, ordered by due time then id, with the cursor of the next page. The page is the first
   * `limit` tasks after the cursor over the statements of `listQueries` (a task found by two of them counts once).
   */
  async list(
    principal: Principal,
    f: TaskListFilter,
    now = new Date(),
  ): Promise<{ items: TaskWithBalance[]; next: { dueAt: string; id: string } | null }> {
    const em = this.ds.manager;
    const seen = new Set<string>();
    const items: TaskWithBalance[] = [];
    for (const q of await this.listQueries(principal, f, now)) {
      for (const row of (await em.query(q.sql, q.params)) as Record<string, unknown>[]) {
        const task = hydrate(em, TaskEntity, row, 't');
        if (!task || seen.has(task.id)) continue;
        seen.add(task.id);
        items.push({ task, escrowBalanceFen: Number(row.escrow_balance_fen ?? 0) });
      }
    }
    items.sort(
      (a, b) =>
        a.task.dueAt.getTime() - b.task.dueAt.getTime() || (a.task.id < b.task.id ? -1 : a.task.id > b.task.id ? 1 : 0),
    );
    const more = items.length > f.limit;
    const page = more ? items.slice(0, f.limit) : items;
    const last = page[page.length - 1]?.task;
    return { items: page, next: more && last ? { dueAt: last.dueAt.toISOString(), id: last.id } : null };
  }

  /**
   * The statements behind one page of a list, as `list` runs them (benchmarks EXPLAIN them). Each reads at most
   * `limit + 1` tasks after the cursor, in (due_at, id) order, never with OFFSET, through the index it names:
   * - inbox: the open tasks assigned to the caller's unit — (assignee_org_unit_id, is_open, due_at, id);
   * - issued: the tasks the caller's unit handed out or holds as its own — (owner_org_unit_id, due_at, id), or
   *   (owner_org_unit_id, is_open, due_at, id) for overdue work;
   * - all: the tasks assigned anywhere in the caller's subtree, and those its unit handed across to a sibling (a
   *   department to a street). Every other handoff goes down the tree (see `channelAllowed`), so no other task owned
   *   in the subtree is assigned outside it. A subtree with few tasks is sorted on the index entries of its path
   *   (assignee_path, due_at) before any row is read; a large one is read by walking all tasks in due order, which
   *   fills a page after a few rows per match. Filtered, the subtree's matching rows are read by path and sorted.
   * The index hints are advice: one naming an index this database lacks is left out, never sent. The SQL is written
   * by hand: lists are the most frequent read, and the query builder cost more CPU than the statement did.
   */
  async listQueries(principal: Principal, f: TaskListFilter, now = new Date()): Promise<ListQuery[]> {
    const present = await this.taskIndexes();
    const use = (...names: string[]) => names.filter((n) => present.has(n));
    const base = { select: listColumns(this.ds.manager), f, now };
    const unit = [principal.orgUnitId];
    if (f.view === 'inbox') {
      return [pageQuery({ ...base, indexes: use('ix_tasks_inbox'), where: 't.assignee_org_unit_id = ? AND t.is_open = 1', params: unit })];
    }
    const byOwner = use('ix_tasks_issued_due', 'ix_tasks_issued');
    const issued = pageQuery({ ...base, indexes: byOwner, where: 't.owner_org_unit_id = ?', params: unit });
    if (f.view === 'issued') return [issued];
    const prefix = [`${principal.orgUnitPath}%`];
    const byPath = use('ix_tasks_assignee_path_due');
    if (f.state || f.categoryCode || f.overdue === true) {
      return [pageQuery({ ...base, indexes: byPath, where: 't.assignee_path LIKE ?', params: prefix }), issued];
    }
    const assigned = (await this.isLargeSubtree(prefix[0], byPath))
      ? pageQuery({ ...base, indexes: use('ix_tasks_due'), where: 't.assignee_path LIKE ?', params: prefix })
      : sortedByIndexQuery({ ...base, indexes: byPath, where: 's.assignee_path LIKE ?', params: prefix });
    return [assigned, issued];
  }


  /**
   * Whether at least SORTED_SUBTREE_LIMIT tasks are assigned under a path (counted on the path index alone, and
   * remembered for a while: the answer only picks a plan, it never changes what a list holds).
   */
  private async isLargeSubtree(prefix: string, indexes: string[]): Promise<boolean> {
    const known = this.subtreeSizes.get(prefix);
    if (known && known.until > Date.now()) return known.large;
    const [row] = (await this.ds
      .createQueryBuilder()
      .select('COUNT(*)', 'n')
      .from(
        (sq) =>
          sq
            .select('1')
            .from(TaskEntity, 's')
            .useIndex(indexes)
            .where('s.assignee_path LIKE :prefix', { prefix })
            .limit(SORTED_SUBTREE_LIMIT),
        'c',
      )
      .getRawMany()) as { n: string | number }[];
    const large = Number(row?.n ?? 0) >= SORTED_SUBTREE_LIMIT;
    if (this.subtreeSizes.size >= 10_000) this.subtreeSizes.clear();
    this.subtreeSizes.set(prefix, { large, until: Date.now() + SUBTREE_SIZE_TTL_MS });
    return large;
  }

  /** The names of the task table's indexes, read once. */
  private taskIndexes(): Promise<Set<string>> {
    this.indexNames ??= this.ds
      .query(
        "SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'tasks'",
      )
      .then((rows: { name: string }[]) => new Set(rows.map((r) => r.name)))
      .catch((err: unknown) => {
        this.indexNames = undefined;
        throw err;
      });
    return this.indexNames;
  }

  /** The task with its escrow balance and grants: one statement (the task row repeats once per grant). */
  async detail(principal: Principal, taskId: string): Promise<TaskWithBalance & { grants: GrantEntity[] }> {
    const em = this.ds.manager;
    const rows = (await em.query(
      `SELECT ${selectList(em, TaskEntity, 't')}, ${selectList(em, AccountEntity, 'a')}, ${selectList(em, GrantEntity, 'g')}
         FROM tasks t LEFT JOIN accounts a ON a.id = ? LEFT JOIN grants g ON g.task_id = t.id
        WHERE t.id = ? ORDER BY g.created_at, g.id`,
      [taskAccountId(taskId), taskId],
    )) as Record<string, unknown>[];
    const task = rows.length ? hydrate(em, TaskEntity, rows[0], 't') : null;
    if (!task || !taskVisibleTo(principal, task)) throw new NotFoundError('Task');
    return { task, ...moneyAndGrants(em, rows) };
  }

  /**
   * A task's escrow balance and grants, in one statement: what an action's response shows beside the task it
   * committed. The caller has checked the task is visible.
   */
  async escrowAndGrants(
    taskId: string,
    em: EntityManager = this.ds.manager,
  ): Promise<{ escrowBalanceFen: number; grants: GrantEntity[] }> {
    const rows = (await em.query(
      `SELECT ${selectList(em, AccountEntity, 'a')}, ${selectList(em, GrantEntity, 'g')}
         FROM (SELECT 1) one LEFT JOIN accounts a ON a.id = ? LEFT JOIN grants g ON g.task_id = ? ORDER BY g.created_at, g.id`,
      [taskAccountId(taskId), taskId],
    )) as Record<string, unknown>[];
    return moneyAndGrants(em, rows);
  }

  async events(principal: Principal, taskId: string, afterSeq: number, limit: number): Promise<TaskEventEntity[]> {
    await this.shell.getVisible(principal, taskId);
    return this.ds
      .getRepository(TaskEventEntity)
      .createQueryBuilder('e')
      .where('e.task_id = :taskId AND e.seq > :afterSeq', { taskId, afterSeq })
      .orderBy('e.seq', 'ASC')
      .limit(limit)
      .getMany();
  }

  async verify(
    principal: Principal,
    taskId: string,
  ): Promise<{ valid: boolean; count: number; brokenAtSeq: number | null }> {
    await this.shell.getVisible(principal, taskId);
    const events = await this.ds.getRepository(TaskEventEntity).find({ where: { taskId }, order: { seq: 'ASC' } });
    return verifyChain(events);
  }
}

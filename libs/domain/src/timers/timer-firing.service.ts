import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, newId } from '@gridflow/common';
import { evaluateTimer, type TimerAction } from '@gridflow/engine';
import { type JsonObject, TaskEntity, TaskTimerEntity } from '@gridflow/persistence';
import { JobName } from '@gridflow/queue';
import { CalendarService } from '../calendar/calendar.service.js';
import { NotificationService } from '../notifications/notification.service.js';
import { OutboxWriter } from '../outbox/outbox.writer.js';
import { appendEvent } from '../tasks/event-chain.js';
import { TaskShell, toInstance } from '../tasks/task-shell.service.js';
import { WorkflowCatalog } from '../workflows/workflow-catalog.service.js';
import { audienceUnits, ladderRung, MAX_ESCALATION_LEVEL } from './escalation-ladder.js';

export type FireOutcome =
  | { kind: 'missing' }
  /** Already fired or cancelled: a duplicate delivery. */
  | { kind: 'not-pending'; status: string }
  /** Woken early (clock skew, a sweeper race): the caller re-delays until `dueAt`. */
  | { kind: 'not-due'; dueAt: Date }
  /** The task moved on (other state, closed) or the engine refused the timer: marked cancelled, nothing done. */
  | { kind: 'cancelled'; reason: string }
  | { kind: 'fired'; timer: TimerAction['kind']; notified: number; level?: number; nextRungAt?: string };

/** Working days between two rungs of the escalation ladder when the workflow does not schedule them itself. */
export const ESCALATION_STEP_WORKING_DAYS = 1;

type NotifyParams = { to?: string; template?: string; userIds?: string[] };

/** What a firing needs to know of a row before it takes any lock. */
export interface TimerHead {
  id: string;
  task_id: string;
  due_at: Date | string;
  status: string;
  do_action: string;
}

interface TimerRow {
  id: string;
  task_id: string;
  timer_id: string;
  state: string;
  status: string;
  do_action: string;
}

const TASK_COLUMNS =
  'id, title, category_code, state, is_open, owner_org_unit_id, assignee_org_unit_id, owner_path, assignee_path, due_at, workflow_key, workflow_version, version, approval, escalation_level, last_event_seq, last_event_hash';

interface TaskRow {
  id: string;
  title: string;
  category_code: string;
  state: string;
  is_open: number | boolean;
  owner_org_unit_id: string;
  assignee_org_unit_id: string;
  owner_path: string;
  assignee_path: string;
  due_at: Date | string;
  workflow_key: string;
  workflow_version: number;
  version: number;
  approval: string | null;
  escalation_level: number;
  last_event_seq: number | null;
  last_event_hash: string | null;
}

/** The fields of a task the firing reads, from a plain row. */
function toTask(r: TaskRow): TaskEntity {
  return Object.assign(new TaskEntity(), {
    id: r.id,
    title: r.title,
    categoryCode: r.category_code,
    state: r.state,
    isOpen: Boolean(Number(r.is_open)),
    ownerOrgUnitId: r.owner_org_unit_id,
    assigneeOrgUnitId: r.assignee_org_unit_id,
    ownerPath: r.owner_path,
    assigneePath: r.assignee_path,
    dueAt: new Date(r.due_at),
    workflowKey: r.workflow_key,
    workflowVersion: Number(r.workflow_version),
    version: Number(r.version),
    approval: r.approval ? (JSON.parse(r.approval) as JsonObject) : null,
    escalationLevel: Number(r.escalation_level),
    lastEventSeq: r.last_event_seq === null ? null : Number(r.last_event_seq),
    lastEventHash: r.last_event_hash,
  });
}

/**
 * Fires durable timer rows. A firing that changes its task (an action, an escalation) locks the task, then the timer
 * row (the order every task action uses, so the two never deadlock); a reminder locks only its timer row and reads
 * the task after it (see `lock`). A row that is no longer pending is left alone, a row whose task left the timer's
 * state is cancelled, otherwise the row is marked fired and its work is done in the same transaction — `action`: the
 * workflow action, performed by the engine as the system through the task shell (events, effects, timers and outbox);
 * `remind`: notifications; `escalate`: notifications, the task's escalation level, overdue marking, supervision
 * entries and the next rung of the ladder. Notifications carry the dedup key `timer-<row>-<user>`, so even a firing
 * replayed after its commit was lost would not notify twice. Remind and escalate rows due together are fired in
 * batches (see `fireMany`).
 */
@Injectable()
export class TimerFiringService {
  private readonly logger = new Logger(TimerFiringService.name);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
    private readonly workflows: WorkflowCatalog,
    private readonly notifications: NotificationService,
    private readonly outbox: OutboxWriter,
    private readonly calendar: CalendarService,
  ) {}

  /**
   * Pending rows due by `now`, oldest first, after the cursor `(due_at, id)` when one is given: what the due-row
   * drain fires without waiting for each row's job (index ix_task_timers_due). Rows whose jobs failed for good
   * (`last_error` set) are left out.
   */
  async dueHeads(now: Date, limit: number, after?: { dueAt: Date; id: string }): Promise<TimerHead[]> {
    // rows whose jobs failed for good (last_error) wait for an operator, as in the sweeper
    return (await this.ds.query(
      `SELECT id, task_id, due_at, status, do_action FROM task_timers
        WHERE status = 'pending' AND last_error IS NULL AND due_at <= ?${after ? ' AND (due_at > ? OR (due_at = ? AND id > ?))' : ''}
        ORDER BY due_at, id LIMIT ?`,
      after ? [now, after.dueAt, after.dueAt, after.id, limit] : [now, limit],
    )) as TimerHead[];
  }

  /**
   * The due time of the next pending row due after `now`, if any. An ordered read that stops at the first row: MariaDB
   * answers `MIN(due_at)` with this filter (`last_error` is not in the index) by reading every pending row after `now`
   * (about 350 ms with 100,000 pending), and the drain waits for this answer between its passes.
   */
  async nextDueAfter(now: Date): Promise<Date | null> {
    const [row] = (await this.ds.query(
      "SELECT due_at FROM task_timers WHERE status = 'pending' AND due_at > ? AND last_error IS NULL ORDER BY due_at LIMIT 1",
      [now],
    )) as { due_at: Date | string }[];
    return row ? new Date(row.due_at) : null;
  }

  /** Fires one timer row. */
  async fire(timerRowId: string, now = new Date()): Promise<FireOutcome> {
    return (await this.fireMany([timerRowId], now)).get(timerRowId) as FireOutcome;
  }

  /**
   * Fires timer rows: those that notify (remind, escalate) together in one transaction with bulk statements, so a
   * burst of timers due in the same second costs a few round trips per batch rather than per timer; action timers
   * one by one, each in its own transaction (a refused action must not undo the others). Throws when the batch
   * transaction fails (the caller retries the rows one by one).
   */
  async fireMany(
    timerRowIds: string[],
    now = new Date(),
    known?: ReadonlyMap<string, TimerHead>,
  ): Promise<Map<string, FireOutcome>> {
    const out = new Map<string, FireOutcome>();
    const ids = [...new Set(timerRowIds)];
    if (!ids.length) return out;
    // a consistent read first: duplicates, early wake-ups and unknown rows are answered without taking any lock
    // (rows the caller has just read, like the due-row drain, are not read again)
    const unknown = known ? ids.filter((id) => !known.has(id)) : ids;
    const heads = [
      ...(known ? ids.flatMap((id) => known.get(id) ?? []) : []),
      ...(unknown.length
        ? ((await this.ds.query(
            `SELECT id, task_id, due_at, status, do_action FROM task_timers WHERE id IN (${unknown.map(() => '?').join(',')})`,
            unknown,
          )) as TimerHead[])
        : []),
    ];
    const byId = new Map(heads.map((h) => [h.id, h]));
    const notices: string[] = [];
    const actions: string[] = [];
    /** Tasks an escalation in this batch writes to (a row's action never changes, so the read above tells). */
    const escalating = new Set<string>();
    for (const id of ids) {
      const h = byId.get(id);
      if (!h) out.set(id, { kind: 'missing' });
      else if (h.status !== 'pending') out.set(id, { kind: 'not-pending', status: h.status });
      else if (new Date(h.due_at).getTime() > now.getTime())
        out.set(id, { kind: 'not-due', dueAt: new Date(h.due_at) });
      else {
        const kind = (JSON.parse(h.do_action) as TimerAction).kind;
        if (kind === 'action') actions.push(id);
        else notices.push(id);
        if (kind === 'escalate') escalating.add(h.task_id);
      }
    }
    if (notices.length) {
      const taskIds = notices.map((id) => (byId.get(id) as { task_id: string }).task_id);
      await this.ds.transaction((em) =>
        this.fireNotices(em, notices, { taskIds, lockTasks: escalating }, now, out),
      );
    }
    for (const id of actions) out.set(id, await this.fireAction(id, (byId.get(id) as TimerHead).task_id, now));
    return out;
  }

  private async fireAction(timerRowId: string, taskId: string, now: Date): Promise<FireOutcome> {
    try {
      return await this.ds.transaction(async (em) => {
        // the task is locked first: its lock is this transaction's first read, so every plain read after it (the
        // guards' facts, the event chain's tail) sees what the last action on the task committed
        const locked = await this.lock(em, [timerRowId], { taskIds: [taskId], lockTasks: new Set([taskId]) });
        const row = locked.rows.get(timerRowId);
        if (!row) return { kind: 'missing' } as const;
        const verdict = this.check(row, locked.tasks.get(row.task_id));
        if (verdict.kind !== 'go')
          return verdict.kind === 'cancel' ? this.cancel(em, row.id, verdict.reason) : verdict.outcome;
        await em.query("UPDATE task_timers SET status = 'fired', fired_at = ? WHERE id = ?", [
          new Date(Math.max(now.getTime(), Date.now())),
          row.id,
        ]);
        await this.shell.fireTimer(row.task_id, row.timer_id, now, em);
        return { kind: 'fired', timer: 'action', notified: 0 } as const;
      });
    } catch (e) {
      // a refused timer action (a guard that no longer holds, a payload the action rejects) will not pass on retry
      if (!(e instanceof DomainError)) throw e;
      const reason = `${e.code}: ${e.message}`.slice(0, 2000);
      await this.ds.query(
        "UPDATE task_timers SET status = 'cancelled', last_error = ? WHERE id = ? AND status = 'pending'",
        [reason, timerRowId],
      );
      this.logger.warn(`timer ${timerRowId} refused: ${reason}`);
      return { kind: 'cancelled', reason };
    }
  }

  /**
   * Locks the tasks in `known.lockTasks`, then the timer rows (the order task actions use), each set in id order, then
   * reads the rows' other tasks without a lock, and returns them. `known.taskIds` are the rows' tasks, read before the
   * transaction (a row's task never changes). Nothing is read without a lock before the locks are taken, so the plain
   * reads see what was committed before them.
   *
   * A task need not be locked for a firing that does not write to it (a reminder): every task action that leaves a
   * state cancels the pending rows of that state's timers by primary key under their row locks
   * (TaskShell.applyTimers). So a row still pending under this transaction's lock belongs to a task in the state the
   * read shows, or to an action that waits for this firing to commit and then finds the row fired. A row the action
   * does not cancel (a timer its workflow version no longer has: a category policy changed since the row started, a
   * version migration) fires just before the action, which is also what it would do with the task locked.
   */
  private async lock(
    em: EntityManager,
    timerRowIds: string[],
    known: { taskIds: string[]; lockTasks: ReadonlySet<string> },
  ): Promise<{ rows: Map<string, TimerRow>; tasks: Map<string, TaskEntity> }> {
    const marks = timerRowIds.map(() => '?').join(',');
    const taskIds = [...new Set(known.taskIds)].sort();
    const locked = taskIds.filter((id) => known.lockTasks.has(id));
    const tasks = new Map<string, TaskEntity>();
    const readTasks = async (ids: string[], forUpdate: boolean) => {
      if (!ids.length) return;
      const taskRows = (await em.query(
        `SELECT ${TASK_COLUMNS} FROM tasks WHERE id IN (${ids.map(() => '?').join(',')}) ORDER BY id${forUpdate ? ' FOR UPDATE' : ''}`,
        ids,
      )) as TaskRow[];
      for (const r of taskRows) tasks.set(r.id, toTask(r));
    };
    await readTasks(locked, true);
    const rows = (await em.query(
      `SELECT id, task_id, timer_id, state, status, do_action FROM task_timers WHERE id IN (${marks}) ORDER BY id FOR UPDATE`,
      timerRowIds,
    )) as TimerRow[];
    await readTasks(taskIds.filter((id) => !known.lockTasks.has(id)), false);
    return { rows: new Map(rows.map((r) => [r.id, r])), tasks };
  }

  private check(
    row: TimerRow,
    task: TaskEntity | undefined,
  ): { kind: 'go'; task: TaskEntity } | { kind: 'cancel'; reason: string } | { kind: 'done'; outcome: FireOutcome } {
    if (row.status !== 'pending') return { kind: 'done', outcome: { kind: 'not-pending', status: row.status } };
    if (!task) return { kind: 'cancel', reason: 'the task is gone' };
    if (!task.isOpen) return { kind: 'cancel', reason: 'the task is closed' };
    if (task.state !== row.state) return { kind: 'cancel', reason: `the task is in ${task.state}` };
    return { kind: 'go', task };
  }

  /** Remind and escalate timers, in one transaction. */
  private async fireNotices(
    em: EntityManager,
    ids: string[],
    known: { taskIds: string[]; lockTasks: ReadonlySet<string> },
    now: Date,
    out: Map<string, FireOutcome>,
  ): Promise<void> {
    const { rows, tasks } = await this.lock(em, ids, known);
    const firing: { row: TimerRow; task: TaskEntity; action: TimerAction; params: NotifyParams }[] = [];
    for (const id of ids) {
      const row = rows.get(id);
      if (!row) {
        out.set(id, { kind: 'missing' });
        continue;
      }
      const verdict = this.check(row, tasks.get(row.task_id));
      if (verdict.kind === 'done') {
        out.set(id, verdict.outcome);
        continue;
      }
      if (verdict.kind === 'cancel') {
        out.set(id, await this.cancel(em, id, verdict.reason));
        continue;
      }
      const task = verdict.task;
      const wf = await this.workflows.forTask(task, em);
      const action = JSON.parse(row.do_action) as TimerAction;
      const result = evaluateTimer(wf.compiled, toInstance(task, {}), row.timer_id, now);
      let params: NotifyParams;
      if (result.ok) params = (result.effects.find((e) => e.name === 'notify')?.params ?? {}) as NotifyParams;
      else if (result.refusal.code === 'TIMER_UNKNOWN') {
        // started under a category policy that has changed since: a started timer runs as it was started
        params = { to: action.to ?? (action.kind === 'escalate' ? 'ownerSuperior' : 'assignee'), template: action.template };
      } else {
        out.set(id, await this.cancel(em, id, `${result.refusal.code}: ${result.refusal.message}`));
        continue;
      }
      firing.push({ row, task, action, params });
    }
    if (!firing.length) return;
    const firedAt = new Date(Math.max(now.getTime(), Date.now()));
    await em.query(
      `UPDATE task_timers SET status = 'fired', fired_at = ? WHERE id IN (${firing.map(() => '?').join(',')})`,
      [firedAt, ...firing.map((f) => f.row.id)],
    );

    // who hears of each: a remind goes to its target unit; an escalation to its rung's leaders, then to whoever the
    // definition names explicitly (one notice per user and timer row)
    const units: string[] = [];
    const plans = firing.map((f) => {
      const rung = f.action.kind === 'escalate' ? ladderRung(f.action.level ?? 1) : null;
      const target = f.action.kind === 'remind' ? (f.params.to ?? 'assignee') : f.action.to;
      const targetUnit =
        f.params.userIds?.length || !target ? undefined : this.notifications.recipientUnitOf(f.task, target);
      const rungUnits = rung ? audienceUnits(rung.audience, f.task) : [];
      for (const u of [targetUnit, ...rungUnits]) if (u) units.push(u);
      return { ...f, rung, targetUnit, rungUnit: rungUnits[0], rungUnits };
    });
    const users = await this.notifications.usersOfUnits(em, units);
    const pick = (unit: string | undefined, roles: readonly string[]) =>
      unit ? (users.get(unit) ?? []).filter((u) => u.roles.some((r) => roles.includes(r))).map((u) => u.id) : [];
    /** The leaders of the closest unit of the chain that has any. */
    const leadersOf = (chain: string[]) => chain.map((u) => pick(u, ['leader'])).find((ids) => ids.length) ?? [];
    const items: Parameters<NotificationService['deliverKeyed']>[1] = [];
    const notifiedBy = new Map<string, number>();
    for (const p of plans) {
      const dedupBase = `timer-${p.row.id}`;
      const seen = new Set<string>();
      const add = (template: string, userIds: string[]) => {
        const fresh = userIds.filter((u) => !seen.has(u));
        fresh.forEach((u) => seen.add(u));
        if (fresh.length) items.push({ task: p.task, template, userIds: fresh, dedupBase });
      };
      if (p.rung) add(p.rung.template, leadersOf(p.rungUnits));
      if (p.action.kind === 'remind' || p.action.to) {
        const fallback = p.action.kind === 'remind' ? 'timer.remind' : 'timer.escalate';
        add(
          p.params.template ?? fallback,
          p.params.userIds?.length ? p.params.userIds : pick(p.targetUnit, NotificationService.RECIPIENT_ROLES),
        );
      }
      notifiedBy.set(p.row.id, seen.size);
    }
    await this.notifications.deliverKeyed(em, items);

    // rows of one task fired together: none of them schedules a rung the batch already reaches
    const batchLevel = new Map<string, number>();
    for (const p of plans)
      if (p.rung) batchLevel.set(p.task.id, Math.max(batchLevel.get(p.task.id) ?? 0, p.rung.level));
    for (const p of plans) {
      if (!p.rung) {
        out.set(p.row.id, { kind: 'fired', timer: 'remind', notified: notifiedBy.get(p.row.id) ?? 0 });
        continue;
      }
      const rung = p.rung;
      const supervisor = p.rungUnit as string;
      if (rung.opensEntry) {
        await em.query(
          'INSERT IGNORE INTO supervision_entries (id, task_id, level, supervisor_org_unit_id, timer_row_id) VALUES (?, ?, ?, ?, ?)',
          [newId(), p.task.id, rung.level, supervisor, p.row.id],
        );
      }
      await appendEvent(
        em,
        {
          taskId: p.task.id,
          action: 'escalate',
          fromState: p.task.state,
          toState: p.task.state,
          actorUserId: null,
          actorOrgUnitId: null,
          payload: { timerId: p.row.timer_id, level: rung.level, rung: rung.name, supervisorOrgUnitId: supervisor },
          at: now,
        },
        p.task,
      );
      await em.query(
        `UPDATE tasks SET escalation_level = GREATEST(escalation_level, ?), overdue_since = COALESCE(overdue_since, IF(due_at <= ?, due_at, NULL)),
                last_event_seq = ?, last_event_hash = ? WHERE id = ?`,
        [rung.level, now, p.task.lastEventSeq, p.task.lastEventHash, p.task.id],
      );
      const nextRungAt =
        (batchLevel.get(p.task.id) ?? 0) > rung.level
          ? null
          : await this.scheduleNextRung(
              em,
              p.task,
              { timerId: p.row.timer_id, state: p.row.state, action: p.action },
              rung.level,
              now,
            );
      p.task.escalationLevel = Math.max(p.task.escalationLevel, rung.level);
      out.set(p.row.id, {
        kind: 'fired',
        timer: 'escalate',
        notified: notifiedBy.get(p.row.id) ?? 0,
        level: rung.level,
        ...(nextRungAt ? { nextRungAt } : {}),
      });
    }
  }

  /**
   * Climbs the ladder on by itself: the next level, ESCALATION_STEP_WORKING_DAYS working days later, as a new timer
   * row of the same timer id and state (so leaving the state or an approved extension cancels it like the timer it
   * continues) — unless the workflow already has a higher rung pending for this task.
   */
  private async scheduleNextRung(
    em: EntityManager,
    task: TaskEntity,
    from: { timerId: string; state: string; action: TimerAction },
    level: number,
    now: Date,
  ): Promise<string | null> {
    // out-of-order firings (a worker back from downtime) must not climb again below a rung already reached
    if (level >= MAX_ESCALATION_LEVEL || task.escalationLevel > level) return null;
    const pending = (await em.query(
      "SELECT do_action FROM task_timers WHERE task_id = ? AND state = ? AND status = 'pending'",
      [task.id, from.state],
    )) as {
      do_action: string;
    }[];
    const higher = pending.some((p) => {
      const a = JSON.parse(p.do_action) as TimerAction;
      return a.kind === 'escalate' && Number(a.level ?? 1) > level;
    });
    if (higher) return null;
    const dueAt = await this.calendar.addWorkingDays(now, ESCALATION_STEP_WORKING_DAYS, { em });
    const id = newId();
    await em.getRepository(TaskTimerEntity).insert({
      id,
      taskId: task.id,
      timerId: from.timerId,
      state: from.state,
      dueAt,
      status: 'pending',
      doAction: { ...from.action, level: level + 1 } as JsonObject,
      taskVersion: task.version,
    });
    await this.outbox.add(em, [
      {
        jobName: JobName.FireTimer,
        aggregateId: task.id,
        payload: { timerRowId: id, taskId: task.id, dueAt: dueAt.toISOString() },
      },
    ]);
    return dueAt.toISOString();
  }

  private async cancel(em: EntityManager, rowId: string, reason: string): Promise<FireOutcome> {
    await em.query("UPDATE task_timers SET status = 'cancelled', last_error = ? WHERE id = ?", [
      reason.slice(0, 2000),
      rowId,
    ]);
    return { kind: 'cancelled', reason };
  }

  /** Records the last error of a firing that exhausted its retries (the row stays pending and visible). */
  async recordFailure(timerRowId: string, error: string): Promise<void> {
    await this.ds.query('UPDATE task_timers SET last_error = ? WHERE id = ?', [error.slice(0, 2000), timerRowId]);
  }
}

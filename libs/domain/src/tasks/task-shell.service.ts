import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, ErrorCode, NotFoundError, type Principal } from '@gridflow/common';
import {
  type Actor,
  type ApprovalState,
  availableActions,
  type AvailableAction,
  type EvaluationOk,
  type EvaluationResult,
  evaluate,
  evaluateTimer,
  type InstanceSnapshot,
  type Directory,
  type Role,
  type Relation,
  type Refusal,
  refusalReason,
  startInstance,
  SYSTEM_ACTOR,
  type WorkflowDefinition,
} from '@gridflow/engine';
import {
  CategoryEntity,
  hydrate,
  insertRows,
  type JsonObject,
  selectList,
  TaskEntity,
  type TaskEventEntity,
  TaskTimerEntity,
  updateById,
  UserEntity,
} from '@gridflow/persistence';
import { newId } from '@gridflow/common';
import { JobName } from '@gridflow/queue';
import { OutboxWriter, type OutboxMessage } from '../outbox/outbox.writer.js';
import { WorkflowCatalog, type PublishedWorkflow } from '../workflows/workflow-catalog.service.js';
import { appendEvent, firstEvent, insertEvents } from './event-chain.js';
import { TaskEffects, type EffectContext } from './task-effects.service.js';
import { pathIds, taskVisibleTo } from './task-paths.js';
import './task-errors.js';
import { assertUrgeAllowed, URGE_ACTION } from '../timers/urge-rate-limit.js';
import { transactionWithRetry } from './transaction-retry.js';
import { CalendarService } from '../calendar/calendar.service.js';
import { accountBalance, taskAccountId } from '../ledger/ledger.service.js';

export interface PerformOptions {
  /** The version the caller last saw (If-Match); a different current version is 409 VERSION_CONFLICT. */
  expectedVersion?: number;
  now?: Date;
}

/** Facts that cost queries to compute; the progress and a pending extension come with the task row. */
type CostlyFact = 'escrowBalanceFen' | 'openChildren' | 'missingPowers';
const COSTLY_FACTS: readonly CostlyFact[] = ['escrowBalanceFen', 'openChildren', 'missingPowers'];

/** The costly facts each guard of the registry reads. A guard missing here gets every fact. */
const GUARD_FACTS: Record<string, readonly CostlyFact[]> = {
  fundsAttached: ['escrowBalanceFen'],
  powersCover: ['missingPowers'],
  childrenClosed: ['openChildren'],
  payloadHas: [],
  progressAtLeast: [],
  notOverdue: [],
  extensionPending: [],
};

/**
 * The costly facts an action needs: those its guards read (reporting progress needs none, submitting only the
 * open children). In a state with an approval step an operation may complete the step and perform another action,
 * so it gets every fact, as does a name the definition does not know.
 */
function factsFor(def: WorkflowDefinition, state: string, action: string): ReadonlySet<CostlyFact> {
  const all = new Set(COSTLY_FACTS);
  const a = def.actions.find((x) => x.id === action);
  if (!a || def.states.find((s) => s.id === state)?.approval) return all;
  const out = new Set<CostlyFact>();
  for (const g of a.guards ?? []) {
    const facts = GUARD_FACTS[g.name];
    if (!facts) return all;
    for (const f of facts) out.add(f);
  }
  return out;
}

/** Facts the guards read, computed inside the transaction from the database (the truth): all, or those `need`s. */
async function loadFacts(
  em: EntityManager,
  task: TaskEntity,
  now = new Date(),
  need: ReadonlySet<CostlyFact> = new Set(COSTLY_FACTS),
): Promise<InstanceSnapshot['facts']> {
  const pending = (task.terms?.pendingExtension as { dueAt?: string } | undefined)?.dueAt ?? null;
  const facts: InstanceSnapshot['facts'] = { progress: task.progress, pendingExtensionDueAt: pending };
  if (need.has('openChildren')) {
    const [open] = (await em.query('SELECT COUNT(*) AS n FROM tasks WHERE parent_id = ? AND is_open = 1', [task.id])) as {
      n: number;
    }[];
    facts.openChildren = Number(open?.n ?? 0);
  }
  if (need.has('escrowBalanceFen')) {
    facts.escrowBalanceFen = await accountBalance(em, taskAccountId(task.id));
  }
  if (need.has('missingPowers')) facts.missingPowers = await missingPowers(em, task, now);
  return facts;
}

/** A comparable form of a column value: JSON columns as text, times as epoch milliseconds. */
const comparable = (v: unknown): unknown => (v instanceof Date ? v.getTime() : v !== null && typeof v === 'object' ? JSON.stringify(v) : v);

/** The task's column values as they were loaded, to find what an action changed. */
function columnSnapshot(task: TaskEntity): Map<string, unknown> {
  return new Map(Object.entries(task).map(([k, v]) => [k, comparable(v)]));
}

/** The columns whose values differ from the snapshot. */
function changedColumns(before: Map<string, unknown>, task: TaskEntity): Partial<TaskEntity> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(task)) {
    if (k !== 'createdAt' && comparable(v) !== before.get(k)) out[k] = v;
  }
  return out as Partial<TaskEntity>;
}

/**
 * Powers the task's category requires that the assignee holds neither as its own duty, nor by law, nor by an
 * active grant on this task. Empty for a unit's own work.
 */
async function missingPowers(em: EntityManager, task: TaskEntity, now: Date): Promise<string[]> {
  if (task.ownerOrgUnitId === task.assigneeOrgUnitId) return [];
  // the category, and whether the assignee's kind or the unit itself has it as a duty: one statement
  const rows = (await em.query(
    `SELECT ${selectList(em, CategoryEntity, 'c')},
            EXISTS (SELECT 1 FROM duties d JOIN org_units o ON o.id = ?
                     WHERE d.category_code = c.code AND ((d.scope = 'kind' AND d.scope_value = o.kind) OR (d.scope = 'unit' AND d.scope_value = o.id))) AS has_duty
       FROM categories c WHERE c.code = ?`,
    [task.assigneeOrgUnitId, task.categoryCode],
  )) as Record<string, unknown>[];
  const category = rows.length ? hydrate(em, CategoryEntity, rows[0], 'c') : null;
  if (!category?.requiredPowerCodes.length) return [];
  if (Number(rows[0].has_duty) === 1) return [];
  const held = (await em.query(
    `SELECT power_code FROM grants WHERE task_id = ? AND grantee_org_unit_id = ? AND status = 'active' AND (valid_until IS NULL OR valid_until > ?)
     UNION SELECT code FROM powers WHERE holder_org_unit_id = ?`,
    [task.id, task.assigneeOrgUnitId, now, task.assigneeOrgUnitId],
  )) as { power_code: string }[];
  const have = new Set(held.map((r) => r.power_code));
  return category.requiredPowerCodes.filter((c) => !have.has(c));
}

/** The task row by primary key, `FOR UPDATE` with `lock`; null when there is none. */
export async function loadTask(em: EntityManager, taskId: string, lock = false): Promise<TaskEntity | null> {
  const rows = (await em.query(`SELECT ${selectList(em, TaskEntity, 't')} FROM tasks t WHERE t.id = ?${lock ? ' FOR UPDATE' : ''}`, [
    taskId,
  ])) as Record<string, unknown>[];
  return rows.length ? hydrate(em, TaskEntity, rows[0], 't') : null;
}

export function toInstance(task: TaskEntity, facts: InstanceSnapshot['facts']): InstanceSnapshot {
  const ownerIds = pathIds(task.ownerPath);
  const assigneeIds = pathIds(task.assigneePath);
  return {
    state: task.state,
    version: task.version,
    ownerOrgUnitId: task.ownerOrgUnitId,
    assigneeOrgUnitId: task.assigneeOrgUnitId,
    ownerParentOrgUnitId: ownerIds.length > 1 ? ownerIds[ownerIds.length - 2] : null,
    assigneeAncestorIds: assigneeIds.slice(0, -1),
    dueAt: task.dueAt.toISOString(),
    facts,
    approval: (task.approval as ApprovalState | null) ?? null,
  };
}

type TimerRow = Pick<TaskTimerEntity, 'id' | 'taskId' | 'timerId' | 'state' | 'dueAt' | 'status' | 'doAction' | 'taskVersion'>;

/** The task_timers rows for the timers an evaluation started (working-day schedules already on the calendar). */
function timerRowsFor(task: TaskEntity, starts: EvaluationOk['timers']['start']): TimerRow[] {
  return starts.map((t) => ({
    id: newId(),
    taskId: task.id,
    timerId: t.timerId,
    state: t.state,
    dueAt: new Date(t.dueAt),
    status: 'pending',
    doAction: t.do as JsonObject,
    taskVersion: task.version,
  }));
}

const fireTimerMessage = (r: TimerRow): OutboxMessage => ({
  jobName: JobName.FireTimer,
  aggregateId: r.taskId,
  payload: { timerRowId: r.id, taskId: r.taskId, dueAt: r.dueAt.toISOString() },
});

function refusalError(r: Refusal): DomainError {
  return new DomainError(r.code, r.message, {
    reason: refusalReason(r),
    ...(r.guard ? { guard: r.guard } : {}),
    ...(r.details !== undefined ? { details: r.details } : {}),
  });
}

export interface NewTask {
  /** Not yet inserted: startNew inserts it in its entry state. */
  task: TaskEntity;
  entryState?: string;
  facts: InstanceSnapshot['facts'];
  eventPayload: Record<string, unknown>;
}

export function actorOf(principal: Principal): Actor {
  return { userId: principal.userId, orgUnitId: principal.orgUnitId, roles: principal.roles };
}

/**
 * The thin shell around the pure engine: loads and locks the task, evaluates, applies the effects, writes the
 * event, the timers and the outbox rows — all in one MySQL transaction. Actions on one task serialise on its row
 * lock; actions on different tasks run in parallel.
 */
@Injectable()
export class TaskShell {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly workflows: WorkflowCatalog,
    private readonly effects: TaskEffects,
    private readonly outbox: OutboxWriter,
    private readonly calendar: CalendarService,
  ) {}

  /** Loads a task the caller may see, or throws NOT_FOUND. */
  async getVisible(principal: Principal, taskId: string, em: EntityManager = this.ds.manager, lock = false): Promise<TaskEntity> {
    const task = await loadTask(em, taskId, lock);
    if (!task || !taskVisibleTo(principal, task)) throw new NotFoundError('Task');
    return task;
  }

  /** The actions the principal may perform on the task now, with their payload schemas. */
  async availableActions(principal: Principal, taskId: string, now = new Date()): Promise<AvailableAction[]> {
    const task = await this.getVisible(principal, taskId);
    const wf = await this.workflows.forTask(task);
    const instance = toInstance(task, await loadFacts(this.ds.manager, task));
    return availableActions(wf.compiled, instance, actorOf(principal), undefined, now);
  }

  /** Performs an action (or approval operation) as the principal. */
  async perform(
    principal: Principal,
    taskId: string,
    action: string,
    payload: Record<string, unknown>,
    opts: PerformOptions = {},
  ): Promise<TaskEntity> {
    return transactionWithRetry(this.ds, async (em) => {
      const task = await this.getVisible(principal, taskId, em, true);
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== task.version) {
        throw new DomainError(ErrorCode.VERSION_CONFLICT, `The task is at version ${task.version}, not ${opts.expectedVersion}`, {
          currentVersion: task.version,
        });
      }
      const wf = await this.workflows.forTask(task, em);
      const now = opts.now ?? new Date();
      const instance = toInstance(task, await loadFacts(em, task, now, factsFor(wf.definition, task.state, action)));
      const directory = await this.directoryFor(em, wf.definition, task);
      const result = evaluate(wf.compiled, instance, actorOf(principal), action, payload, now, directory);
      if (result.ok && result.action === URGE_ACTION) await assertUrgeAllowed(em, task.id, now);
      return this.apply(em, task, wf, result, { principal, payload, now });
    });
  }

  /**
   * Fires a workflow timer as the system (used by the timer worker). Stale timers are refused by the engine. With
   * `outer`, it runs inside the caller's transaction (the timer worker marks its timer row fired in the same one).
   */
  async fireTimer(taskId: string, timerId: string, now = new Date(), outer?: EntityManager): Promise<TaskEntity> {
    const run = (fn: (em: EntityManager) => Promise<TaskEntity>) => (outer ? fn(outer) : transactionWithRetry(this.ds, fn));
    return run(async (em) => {
      const task = await loadTask(em, taskId, true);
      if (!task) throw new NotFoundError('Task');
      const wf = await this.workflows.forTask(task, em);
      const instance = toInstance(task, await loadFacts(em, task));
      const directory = await this.directoryFor(em, wf.definition, task);
      const result = evaluateTimer(wf.compiled, instance, timerId, now, directory);
      return this.apply(em, task, wf, result, { principal: null, payload: {}, now });
    });
  }

  /**
   * Starts new tasks inside the caller's transaction: evaluates each entry with the engine, then writes the task
   * rows (already in their entry state), their `create` events, timers and outbox rows in a few bulk statements, so
   * a handoff to thousands of grids costs a handful of round trips. The caller supplies the facts of each new task
   * (it knows them: it just funded it and checked its powers).
   */
  async startNew(em: EntityManager, principal: Principal, pinned: PublishedWorkflow, items: NewTask[], now = new Date()): Promise<TaskEntity[]> {
    const messages: OutboxMessage[] = [];
    const events: TaskEventEntity[] = [];
    const timerRows: TimerRow[] = [];
    const needsDirectory = pinned.definition.states.some((s) => s.approval);
    const byCategory = new Map<string, PublishedWorkflow>();
    for (const item of items) {
      const task = item.task;
      const code = task.categoryCode;
      const wf = byCategory.get(code) ?? (await this.workflows.withCategoryPolicy(pinned, code, em));
      byCategory.set(code, wf);
      const { state: _s, ...instance } = toInstance(task, { openChildren: 0, progress: 0, missingPowers: [], pendingExtensionDueAt: null, ...item.facts });
      const directory = needsDirectory ? await this.directoryFor(em, wf.definition, task) : undefined;
      const result = startInstance(wf.compiled, instance, actorOf(principal), now, { entryState: item.entryState, directory });
      if (!result.ok) throw refusalError(result.refusal);
      const own: OutboxMessage[] = [];
      for (const effect of result.effects) {
        await this.effects.apply(effect, { em, task, workflow: wf, principal, payload: item.eventPayload, now, outbox: own });
      }
      task.state = result.nextState;
      task.isOpen = !result.final;
      task.approval = (result.approval as unknown as JsonObject) ?? null;
      task.version = 1;
      timerRows.push(...timerRowsFor(task, await this.calendar.scheduleTimers(result.timers.start, now, em)));
      events.push(
        firstEvent(
          em,
          {
            taskId: task.id,
            action: 'create',
            fromState: null,
            toState: result.nextState,
            actorUserId: principal.userId,
            actorOrgUnitId: principal.orgUnitId,
            payload: item.eventPayload,
            at: now,
          },
          task,
        ),
      );
      for (const m of own) if (m.jobName === JobName.Notify) (m.payload as { eventSeq: number }).eventSeq = 1;
      messages.push(...own);
    }
    for (let i = 0; i < items.length; i += 1000) await insertRows(em, TaskEntity, items.slice(i, i + 1000).map((it) => it.task));
    await insertEvents(em, events);
    if (timerRows.length) {
      for (let i = 0; i < timerRows.length; i += 1000) await insertRows(em, TaskTimerEntity, timerRows.slice(i, i + 1000));
      messages.push(...timerRows.map(fireTimerMessage));
    }
    await this.outbox.add(em, messages);
    return items.map((it) => it.task);
  }

  private async apply(
    em: EntityManager,
    task: TaskEntity,
    wf: PublishedWorkflow,
    result: EvaluationResult,
    ctx: { principal: Principal | null; payload: Record<string, unknown>; now: Date; eventAction?: string },
  ): Promise<TaskEntity> {
    if (!result.ok) throw refusalError(result.refusal);
    const ok: EvaluationOk = result;
    const messages: OutboxMessage[] = [];
    const before = columnSnapshot(task);
    const effectCtx: EffectContext = {
      em,
      task,
      workflow: wf,
      principal: ctx.principal,
      payload: ctx.payload,
      now: ctx.now,
      outbox: messages,
    };
    for (const effect of ok.effects) await this.effects.apply(effect, effectCtx);

    const fromState = ok.fromState;
    task.state = ok.nextState;
    task.isOpen = !ok.final;
    task.approval = (ok.approval as unknown as Record<string, unknown>) ?? null;
    if (ok.final && !task.closedAt) task.closedAt = ctx.now;
    task.version += 1;
    task.updatedAt = new Date();
    // the event first: it moves the task's chain head, which the UPDATE below writes with the rest
    const event = await appendEvent(
      em,
      {
        taskId: task.id,
        action: ctx.eventAction ?? ok.action,
        fromState,
        toState: ok.nextState,
        actorUserId: ctx.principal?.userId ?? null,
        actorOrgUnitId: ctx.principal?.orgUnitId ?? null,
        payload: ctx.payload,
        at: ctx.now,
      },
      task,
    );
    // one UPDATE by primary key of what changed: `save` would read the row again before and after writing it; the
    // returned task is then exactly the row as committed
    await updateById(em, TaskEntity, task.id, changedColumns(before, task));

    await this.applyTimers(em, task, ok, messages, ctx.now);

    for (const m of messages) {
      if (m.jobName === JobName.Notify) (m.payload as { eventSeq: number }).eventSeq = event.seq;
    }
    if (ok.stateChanged && task.parentId && !messages.some((m) => m.jobName === JobName.RollUp)) {
      messages.push({ jobName: JobName.RollUp, aggregateId: task.parentId, payload: { taskId: task.parentId } });
    }
    await this.outbox.add(em, messages);
    return task;
  }

  private async applyTimers(
    em: EntityManager,
    task: TaskEntity,
    ok: EvaluationOk,
    messages: OutboxMessage[],
    now: Date,
  ): Promise<void> {
    const cancel = ok.timers.cancel;
    if (cancel.length) {
      // found by a plain read, cancelled by primary key: an UPDATE over the task_id index would take gap
      // locks that deadlock with other tasks inserting their timers next to this task's rows. New timers of a task are
      // only written under its row lock, which this transaction holds; `status = 'pending'` skips one fired meanwhile.
      const ids = (
        (await em.query(
          `SELECT id FROM task_timers WHERE task_id = ? AND timer_id IN (${cancel.map(() => '?').join(', ')}) AND status = 'pending'`,
          [task.id, ...cancel],
        )) as { id: string }[]
      ).map((r) => r.id);
      if (ids.length) {
        await em.query(`UPDATE task_timers SET status = 'cancelled' WHERE id IN (${ids.map(() => '?').join(', ')}) AND status = 'pending'`, ids);
      }
    }
    const rows = timerRowsFor(task, await this.calendar.scheduleTimers(ok.timers.start, now, em));
    if (rows.length) {
      await insertRows(em, TaskTimerEntity, rows);
      // the relay turns these into delayed jobs; the rows stay the truth if Redis loses them
      messages.push(...rows.map(fireTimerMessage));
    }
  }

  /**
   * Resolves role+relation approver specs of the definition into user ids, for this task. Only definitions
   * with approval steps pay for the queries.
   */
  private async directoryFor(em: EntityManager, def: WorkflowDefinition, task: TaskEntity): Promise<Directory | undefined> {
    const specs = new Map<string, { role: Role; relation: Relation }>();
    for (const s of def.states) {
      for (const a of s.approval?.approvers ?? []) if ('role' in a) specs.set(`${a.role}:${a.relation}`, a);
    }
    if (!specs.size) return undefined;
    const ownerIds = pathIds(task.ownerPath);
    const assigneeIds = pathIds(task.assigneePath);
    const unitsFor = (relation: Relation): string[] => {
      switch (relation) {
        case 'owner':
          return [task.ownerOrgUnitId];
        case 'assignee':
          return [task.assigneeOrgUnitId];
        case 'ownerSuperior':
          return ownerIds.length > 1 ? [ownerIds[ownerIds.length - 2]] : [];
        case 'aboveAssignee':
          return assigneeIds.slice(0, -1);
        default:
          return [];
      }
    };
    const resolved = new Map<string, string[]>();
    for (const [key, spec] of specs) {
      const units = unitsFor(spec.relation);
      const users = units.length
        ? await em
            .getRepository(UserEntity)
            .createQueryBuilder('u')
            .select(['u.id', 'u.roles'])
            .where('u.org_unit_id IN (:...units) AND u.disabled = 0', { units })
            .orderBy('u.id')
            .getMany()
        : [];
      resolved.set(key, users.filter((u) => u.roles.includes(spec.role)).map((u) => u.id));
    }
    return { usersWith: (role, relation) => resolved.get(`${role}:${relation}`) ?? [] };
  }
}

export { SYSTEM_ACTOR };

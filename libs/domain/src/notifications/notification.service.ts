import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { newId, NotFoundError, type Principal } from '@gridflow/common';
import { NotificationEntity, type TaskEntity } from '@gridflow/persistence';
import type { JobName, JobPayloads } from '@gridflow/queue';
import { pathIds } from '../tasks/task-paths.js';
import { NotificationChannels, type NotificationRow } from './notification-channels.service.js';

/** Roles that receive a unit's task notifications. */
const RECIPIENT_ROLES = ['leader', 'staff', 'grid_worker'];

const TITLES: Record<string, string> = {
  'task.assigned': '新任务：{title}',
  'task.consultation': '需协商的任务：{title}',
  'task.accepted': '任务已接收：{title}',
  'task.returned': '任务被退回：{title}',
  'task.agreed': '协商已同意：{title}',
  'task.declined': '协商被拒绝：{title}',
  'task.submitted': '任务已提交待验收：{title}',
  'task.closed': '任务已办结：{title}',
  'task.rejected': '任务验收未通过：{title}',
  'task.urged': '催办：{title}',
  'task.withdrawn': '任务已撤回：{title}',
  'task.cancelled': '任务已取消：{title}',
  'task.extension_requested': '延期申请：{title}',
  'task.extension_approved': '延期已批准：{title}',
  'task.extension_denied': '延期未批准：{title}',
  'task.acceptance_reminder': '待接收提醒：{title}',
  'task.consultation_reminder': '待协商提醒：{title}',
  'task.due_soon': '即将到期：{title}',
  'task.due_next_working_day': '下一个工作日到期：{title}',
  'task.acceptance_overdue': '超时未接收：{title}',
  'task.overdue': '任务已逾期：{title}',
  'timer.remind': '办理提醒：{title}',
  'timer.escalate': '升级提醒：{title}',
  'task.escalation_urge': '催办（逾期未办）：{title}',
  'task.escalation_supervision': '督办：{title}',
  'task.escalation_listed': '挂牌督办：{title}',
};

/** The inbox title of a notification about a task. */
function titleFor(template: string, taskTitle: string): string {
  return (TITLES[template] ?? '任务动态：{title}').replace('{title}', taskTitle).slice(0, 300);
}

/** The unit whose users a notification about the task goes to. */
function recipientUnit(
  task: Pick<TaskEntity, 'ownerOrgUnitId' | 'assigneeOrgUnitId' | 'ownerPath'>,
  to: string,
): string | undefined {
  if (to === 'owner' || to === 'initiator') return task.ownerOrgUnitId;
  if (to === 'ownerSuperior') {
    const ids = pathIds(task.ownerPath);
    return ids[ids.length - 2];
  }
  return task.assigneeOrgUnitId;
}

/**
 * One notify effect: one task or many sibling tasks, about event `eventSeq`; `correlationId` is the request it
 * derives from when not the current one (its outbound deliveries carry it).
 */
export type NotifyEffect = JobPayloads[JobName.Notify] & { correlationId?: string | null };

type NotifiedTask = Pick<TaskEntity, 'id' | 'title' | 'ownerOrgUnitId' | 'assigneeOrgUnitId' | 'ownerPath'>;

/** In-app notifications: delivery from task events (idempotent per event, template and user) and the inbox. */
@Injectable()
export class NotificationService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly channels: NotificationChannels,
  ) {}

  /** Delivers one notify effect — for one task, or for the many children of a fan-out. */
  async deliver(em: EntityManager, p: NotifyEffect): Promise<number> {
    return this.deliverMany(em, [p]);
  }

  /**
   * Delivers many notify effects at once — the notify rows of one relay pass — in a few bulk statements: one read of
   * their tasks, one of the recipient units' users, the inserts, and one fan-out to the outbound channels (plain SQL:
   * this runs for most task actions). Returns how many notifications were new (a redelivery inserts none: the dedup
   * key is per task, event, template and user).
   */
  async deliverMany(em: EntityManager, effects: readonly NotifyEffect[]): Promise<number> {
    const idsOf = (p: NotifyEffect) => p.taskIds ?? (p.taskId ? [p.taskId] : []);
    const ids = [...new Set(effects.flatMap(idsOf))];
    if (!ids.length) return 0;
    const tasks = new Map<string, NotifiedTask>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const found = (await em.query(
        `SELECT id, title, owner_org_unit_id AS ownerOrgUnitId, assignee_org_unit_id AS assigneeOrgUnitId,
                owner_path AS ownerPath
           FROM tasks WHERE id IN (${chunk.map(() => '?').join(',')})`,
        chunk,
      )) as NotifiedTask[];
      for (const t of found) tasks.set(t.id, t);
    }
    const targets = effects.map((p) => ({
      p,
      tasks: idsOf(p)
        .map((id) => tasks.get(id))
        .filter((t): t is NotifiedTask => !!t),
    }));
    // the recipients of effects without explicit users: the users of the target units with a recipient role
    const units = targets.flatMap(({ p, tasks: ts }) =>
      p.userIds?.length ? [] : ts.map((t) => recipientUnit(t, p.to)).filter((u): u is string => !!u),
    );
    const byUnit = new Map<string, string[]>();
    for (const [unit, list] of await this.usersOfUnits(em, units)) {
      byUnit.set(
        unit,
        list.filter((u) => u.roles.some((r) => RECIPIENT_ROLES.includes(r))).map((u) => u.id),
      );
    }
    const rows: NotificationRow[] = [];
    for (const { p, tasks: ts } of targets) {
      const template = p.template.slice(0, 64);
      for (const task of ts) {
        const unit = recipientUnit(task, p.to);
        const recipients = p.userIds?.length ? [...new Set(p.userIds)] : unit ? (byUnit.get(unit) ?? []) : [];
        const title = titleFor(p.template, task.title);
        for (const userId of recipients) {
          rows.push({
            id: newId(),
            userId,
            taskId: task.id,
            template,
            title,
            dedupKey: `${task.id}-${p.eventSeq}-${p.template}-${userId}`.slice(0, 200),
            ...(p.correlationId !== undefined ? { correlationId: p.correlationId } : {}),
          });
        }
      }
    }
    return this.insert(em, rows);
  }

  /**
   * Delivers notifications with caller-chosen dedup keys (`<dedupBase>-<userId>`), e.g. per timer row: a retried or
   * duplicated firing inserts nothing new. Many items go out in a few bulk statements (plain SQL: this sits on the
   * timer worker's hot path). Returns how many notifications were new.
   */
  async deliverKeyed(
    em: EntityManager,
    items: { task: Pick<TaskEntity, 'id' | 'title'>; template: string; userIds: string[]; dedupBase: string }[],
  ): Promise<number> {
    const rows: NotificationRow[] = [];
    for (const p of items) {
      const title = titleFor(p.template, p.task.title);
      for (const userId of new Set(p.userIds)) {
        rows.push({
          id: newId(),
          userId,
          taskId: p.task.id,
          template: p.template.slice(0, 64),
          title,
          dedupKey: `${p.dedupBase}-${userId}`.slice(0, 200),
        });
      }
    }
    return this.insert(em, rows);
  }

  /**
   * Inserts notification rows (a row whose dedup key exists already is skipped) and fans the new ones out to the
   * outbound channels. Returns how many were new.
   */
  private async insert(em: EntityManager, rows: NotificationRow[]): Promise<number> {
    let inserted = 0;
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      const res = (await em.query(
        `INSERT IGNORE INTO notifications (id, user_id, task_id, template, title, dedup_key) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(',')}`,
        chunk.flatMap((r) => [r.id, r.userId, r.taskId, r.template, r.title, r.dedupKey]),
      )) as { affectedRows?: number };
      inserted += Number(res.affectedRows ?? 0);
    }
    // fanOut looks up which of the offered rows are new itself
    if (inserted) await this.channels.fanOut(em, rows);
    return inserted;
  }

  /** The active users of some units, with their roles, by unit (ordered by id). */
  async usersOfUnits(em: EntityManager, unitIds: string[]): Promise<Map<string, { id: string; roles: string[] }[]>> {
    const byUnit = new Map<string, { id: string; roles: string[] }[]>();
    const units = [...new Set(unitIds)];
    if (!units.length) return byUnit;
    const users = (await em.query(
      `SELECT id, roles, org_unit_id FROM users WHERE org_unit_id IN (${units.map(() => '?').join(',')}) AND disabled = 0 ORDER BY id`,
      units,
    )) as { id: string; roles: string | null; org_unit_id: string }[];
    for (const u of users)
      byUnit.set(u.org_unit_id, [
        ...(byUnit.get(u.org_unit_id) ?? []),
        { id: u.id, roles: (u.roles ?? '').split(',') },
      ]);
    return byUnit;
  }

  /** The unit a notify target (`owner`, `assignee`, `ownerSuperior`, `initiator`) points at for a task. */
  recipientUnitOf(
    task: Pick<TaskEntity, 'ownerPath' | 'ownerOrgUnitId' | 'assigneeOrgUnitId'>,
    to: string,
  ): string | undefined {
    return recipientUnit(task, to);
  }

  /** The roles that receive a unit's task notifications. */
  static readonly RECIPIENT_ROLES: readonly string[] = RECIPIENT_ROLES;

  async list(
    principal: Principal,
    q: { unread?: boolean; limit: number; afterId?: string },
  ): Promise<NotificationEntity[]> {
    const qb = this.ds
      .getRepository(NotificationEntity)
      .createQueryBuilder('n')
      .where('n.user_id = :u', { u: principal.userId })
      .orderBy('n.id', 'DESC')
      .limit(q.limit + 1);
    if (q.unread) qb.andWhere('n.read_at IS NULL');
    if (q.afterId) qb.andWhere('n.id < :after', { after: q.afterId });
    return qb.getMany();
  }

  async markRead(principal: Principal, id: string): Promise<NotificationEntity> {
    const repo = this.ds.getRepository(NotificationEntity);
    const n = await repo.findOneBy({ id, userId: principal.userId });
    if (!n) throw new NotFoundError('Notification');
    if (!n.readAt) await repo.update({ id, readAt: IsNull() }, { readAt: new Date() });
    return repo.findOneByOrFail({ id });
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { newId, NotFoundError, type Principal } from '@gridflow/common';
import { NotificationEntity, TaskEntity, UserEntity } from '@gridflow/persistence';
import { pathIds } from '../tasks/task-paths.js';

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
};

/** In-app notifications: delivery from task events (idempotent per event, template and user) and the inbox. */
@Injectable()
export class NotificationService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Delivers one notify effect. Returns how many notifications were new. */
  async deliver(em: EntityManager, p: { taskId: string; eventSeq: number; template: string; to: string; userIds?: string[] }): Promise<number> {
    const task = await em.getRepository(TaskEntity).findOneBy({ id: p.taskId });
    if (!task) return 0;
    const recipients = p.userIds?.length ? p.userIds : await this.unitRecipients(em, task, p.to);
    if (!recipients.length) return 0;
    const title = (TITLES[p.template] ?? '任务动态：{title}').replace('{title}', task.title).slice(0, 300);
    const rows = recipients.map((userId) => ({
      id: newId(),
      userId,
      taskId: task.id,
      template: p.template.slice(0, 64),
      title,
      dedupKey: `${task.id}-${p.eventSeq}-${p.template}-${userId}`.slice(0, 200),
    }));
    const res = await em.createQueryBuilder().insert().into(NotificationEntity).values(rows).orIgnore().execute();
    return res.raw?.affectedRows ?? rows.length;
  }

  private async unitRecipients(em: EntityManager, task: TaskEntity, to: string): Promise<string[]> {
    const ownerIds = pathIds(task.ownerPath);
    const unit =
      to === 'owner' || to === 'initiator'
        ? task.ownerOrgUnitId
        : to === 'ownerSuperior'
          ? ownerIds[ownerIds.length - 2]
          : task.assigneeOrgUnitId;
    if (!unit) return [];
    const users = await em.getRepository(UserEntity).find({ where: { orgUnitId: unit, disabled: false }, select: { id: true, roles: true } });
    return users.filter((u) => u.roles.some((r) => RECIPIENT_ROLES.includes(r))).map((u) => u.id);
  }

  async list(principal: Principal, q: { unread?: boolean; limit: number; afterId?: string }): Promise<NotificationEntity[]> {
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

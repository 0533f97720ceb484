import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { AccountEntity, GrantEntity, TaskEntity, TaskEventEntity } from '@gridflow/persistence';
import { GrantsService } from '../grants/grants.service.js';
import { taskAccountId } from '../ledger/ledger.service.js';
import { verifyChain } from './event-chain.js';
import { TaskShell } from './task-shell.service.js';

export type TaskListView = 'inbox' | 'issued' | 'all';

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

/** Scoped reads of tasks: lists with keyset pages, details, history. */
@Injectable()
export class TaskReader {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
    private readonly grants: GrantsService,
  ) {}

  /**
   * Keyset pages ordered by due time then id. The inbox (open tasks assigned to the caller's unit) is served by the
   * index (assignee_org_unit_id, is_open, due_at, id) with no OFFSET.
   */
  async list(principal: Principal, f: TaskListFilter, now = new Date()): Promise<{ items: TaskWithBalance[]; next: { dueAt: string; id: string } | null }> {
    const qb = this.ds
      .getRepository(TaskEntity)
      .createQueryBuilder('t')
      .leftJoin(AccountEntity, 'a', "a.id = CONCAT('task-', t.id)")
      .addSelect('a.balance_fen', 'escrow_balance_fen');
    if (f.view === 'inbox') {
      qb.where('t.assignee_org_unit_id = :unit AND t.is_open = 1', { unit: principal.orgUnitId });
    } else if (f.view === 'issued') {
      qb.where('t.owner_org_unit_id = :unit', { unit: principal.orgUnitId });
    } else {
      qb.where(
        new Brackets((w) =>
          w.where('t.assignee_path LIKE :prefix', { prefix: `${principal.orgUnitPath}%` }).orWhere('t.owner_path LIKE :prefix'),
        ),
      );
    }
    if (f.state) qb.andWhere('t.state = :state', { state: f.state });
    if (f.categoryCode) qb.andWhere('t.category_code = :cat', { cat: f.categoryCode });
    if (f.overdue === true) qb.andWhere('t.is_open = 1 AND t.due_at < :now', { now });
    if (f.overdue === false) qb.andWhere('(t.is_open = 0 OR t.due_at >= :now)', { now });
    if (f.after) {
      qb.andWhere('(t.due_at > :ad OR (t.due_at = :ad AND t.id > :aid))', { ad: new Date(f.after.dueAt), aid: f.after.id });
    }
    qb.orderBy('t.due_at', 'ASC').addOrderBy('t.id', 'ASC').limit(f.limit + 1);
    const { entities, raw } = await qb.getRawAndEntities<{ escrow_balance_fen: string | number | null }>();
    const items = entities.map((task, i) => ({ task, escrowBalanceFen: Number(raw[i]?.escrow_balance_fen ?? 0) }));
    const more = items.length > f.limit;
    const page = more ? items.slice(0, f.limit) : items;
    const last = page[page.length - 1]?.task;
    return { items: page, next: more && last ? { dueAt: last.dueAt.toISOString(), id: last.id } : null };
  }

  async detail(principal: Principal, taskId: string): Promise<TaskWithBalance & { grants: GrantEntity[] }> {
    const task = await this.shell.getVisible(principal, taskId);
    const [account, grants] = await Promise.all([
      this.ds.getRepository(AccountEntity).findOneBy({ id: taskAccountId(task.id) }),
      this.grants.listForTask(task.id),
    ]);
    return { task, escrowBalanceFen: account?.balanceFen ?? 0, grants };
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

  async verify(principal: Principal, taskId: string): Promise<{ valid: boolean; count: number; brokenAtSeq: number | null }> {
    await this.shell.getVisible(principal, taskId);
    const events = await this.ds.getRepository(TaskEventEntity).find({ where: { taskId }, order: { seq: 'ASC' } });
    return verifyChain(events);
  }
}

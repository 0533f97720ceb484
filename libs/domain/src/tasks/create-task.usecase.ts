import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, newId, type Principal } from '@gridflow/common';
import { CategoryEntity, OrgUnitEntity, TaskEntity } from '@gridflow/persistence';
import { LedgerService, orgAccountId, taskAccountId } from '../ledger/ledger.service.js';
import { WorkflowCatalog } from '../workflows/workflow-catalog.service.js';
import { TaskShell } from './task-shell.service.js';
import { transactionWithRetry } from './transaction-retry.js';

export interface CreateTaskCommand {
  title: string;
  categoryCode: string;
  dueAt: Date;
  fundingFen?: number;
  description?: string;
  weight?: number;
}

/**
 * A task held by the caller's own unit (a department's campaign, a street's own work): owner and assignee are the
 * caller's unit, it is pinned to the current version of the category's workflow and starts in its own-work entry
 * state (`in_progress` when the workflow has one). Funding moves from the unit's budget into the task's escrow in
 * the same transaction.
 */
@Injectable()
export class CreateTaskUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly workflows: WorkflowCatalog,
    private readonly shell: TaskShell,
    private readonly ledger: LedgerService,
  ) {}

  async execute(principal: Principal, cmd: CreateTaskCommand, now = new Date()): Promise<TaskEntity> {
    if (cmd.dueAt.getTime() <= now.getTime()) {
      throw new DomainError('DUE_TIME_INVALID', 'The due time must be in the future');
    }
    return transactionWithRetry(this.ds, async (em) => {
      const category = await em.getRepository(CategoryEntity).findOneBy({ code: cmd.categoryCode });
      if (!category) throw new DomainError('CATEGORY_NOT_FOUND', `No category ${cmd.categoryCode}`);
      const unit = await em.getRepository(OrgUnitEntity).findOneByOrFail({ id: principal.orgUnitId });
      const wf = await this.workflows.current(category.workflowKey, em);
      const id = newId();
      const task = em.getRepository(TaskEntity).create({
        id,
        title: cmd.title,
        description: cmd.description ?? null,
        categoryCode: category.code,
        ownerOrgUnitId: unit.id,
        assigneeOrgUnitId: unit.id,
        ownerPath: unit.path,
        assigneePath: unit.path,
        parentId: null,
        rootId: id,
        depth: 0,
        state: '',
        isOpen: true,
        progress: 0,
        weight: cmd.weight ?? 1,
        dueAt: cmd.dueAt,
        workflowKey: wf.key,
        workflowVersion: wf.version,
        version: 0,
        approval: null,
        terms: null,
        createdBy: principal.userId,
        closedAt: null,
      });
      if (cmd.fundingFen && cmd.fundingFen > 0) {
        await this.ledger.post(em, [
          { from: orgAccountId(unit.id), to: taskAccountId(id), amountFen: cmd.fundingFen, kind: 'funding', taskId: id, actorUserId: principal.userId },
        ]);
      }
      const entryState = wf.definition.states.some((s) => s.id === 'in_progress' && (s.entry || s.initial)) ? 'in_progress' : undefined;
      const [started] = await this.shell.startNew(
        em,
        principal,
        wf,
        [
          {
            task,
            entryState,
            facts: { escrowBalanceFen: cmd.fundingFen ?? 0 },
            eventPayload: { title: cmd.title, categoryCode: category.code, dueAt: cmd.dueAt.toISOString(), fundingFen: cmd.fundingFen ?? 0 },
          },
        ],
        now,
      );
      return started;
    });
  }
}

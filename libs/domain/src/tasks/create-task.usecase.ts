import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, newId, NotFoundError, type Principal } from '@gridflow/common';
import { CategoryEntity, hydrate, OrgUnitEntity, selectList, TaskEntity } from '@gridflow/persistence';
import { LedgerService, orgAccountId, taskAccountId } from '../ledger/ledger.service.js';
import { currentVersionSql, WorkflowCatalog } from '../workflows/workflow-catalog.service.js';
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
      // the category, the caller's unit and the current version of the category's workflow, in one statement
      const [row] = (await em.query(
        `SELECT ${selectList(em, CategoryEntity, 'c')}, ${selectList(em, OrgUnitEntity, 'u')},
                ${currentVersionSql('c.workflow_key')} AS workflow_version
           FROM (SELECT 1) one LEFT JOIN categories c ON c.code = ? LEFT JOIN org_units u ON u.id = ?`,
        [cmd.categoryCode, principal.orgUnitId],
      )) as Record<string, unknown>[];
      const category = hydrate(em, CategoryEntity, row, 'c');
      if (!category) throw new DomainError('CATEGORY_NOT_FOUND', `No category ${cmd.categoryCode}`);
      const unit = hydrate(em, OrgUnitEntity, row, 'u');
      if (!unit) throw new NotFoundError('Org unit');
      const wf = await this.workflows.published(category.workflowKey, row.workflow_version as number | string | null, em);
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

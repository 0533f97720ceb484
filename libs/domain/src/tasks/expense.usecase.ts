import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, ErrorCode, registerErrorStatuses, type Principal } from '@gridflow/common';
import { CategoryEntity, GrantEntity, LedgerEntryEntity, PowerEntity, TaskEntity } from '@gridflow/persistence';
import { EXTERNAL_EXPENSE, LedgerService, taskAccountId } from '../ledger/ledger.service.js';
import { GrantsService } from '../grants/grants.service.js';
import { appendEvent } from './event-chain.js';
import { TaskShell } from './task-shell.service.js';
import { transactionWithRetry } from './transaction-retry.js';

export const ExpenseErrorCode = {
  AUTHORITY_REQUIRED: 'AUTHORITY_REQUIRED',
  GRANT_CAP_EXCEEDED: 'GRANT_CAP_EXCEEDED',
  TASK_NOT_IN_PROGRESS: 'TASK_NOT_IN_PROGRESS',
} as const;

registerErrorStatuses({ AUTHORITY_REQUIRED: 422, GRANT_CAP_EXCEEDED: 422 });

export interface ExpenseCommand {
  amountFen: number;
  payee: string;
  note?: string;
}

/**
 * Spending from a task's escrow needs authority over money: an active grant of a money-bearing power whose cap
 * covers the running total — or, for a unit's own work, a money-bearing power it holds by law that the category
 * requires. The task row lock serialises expenses on one task; the grant's running total and the escrow change in
 * the same transaction as the expense's event.
 */
@Injectable()
export class ExpenseUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
    private readonly ledger: LedgerService,
  ) {}

  async execute(principal: Principal, taskId: string, cmd: ExpenseCommand, now = new Date()): Promise<{ task: TaskEntity; entry: LedgerEntryEntity; grant: GrantEntity | null; escrowBalanceFen: number }> {
    return transactionWithRetry(this.ds, async (em) => {
      const task = await this.shell.getVisible(principal, taskId, em, true);
      if (task.assigneeOrgUnitId !== principal.orgUnitId) {
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only the unit doing the task records its expenses');
      }
      if (task.state !== 'in_progress') {
        throw new DomainError(ExpenseErrorCode.TASK_NOT_IN_PROGRESS, `No expenses on a task in state ${task.state}`);
      }
      const grants = (await em.getRepository(GrantEntity).find({
        where: { taskId, granteeOrgUnitId: task.assigneeOrgUnitId, status: 'active' },
        order: { createdAt: 'ASC', id: 'ASC' },
        lock: { mode: 'pessimistic_write' },
      })).filter((g) => GrantsService.isActive(g, now));
      const moneyPowers = new Set(
        (await em.getRepository(PowerEntity).find({ where: { bearsMoney: true }, select: { code: true, holderOrgUnitId: true } })).map((p) => p.code),
      );
      const money = grants.filter((g) => moneyPowers.has(g.powerCode));
      let grant: GrantEntity | null = null;
      if (money.length) {
        grant = money.find((g) => g.capFen === null || g.spentFen + cmd.amountFen <= g.capFen) ?? null;
        if (!grant) {
          const g = money[0];
          throw new DomainError(ExpenseErrorCode.GRANT_CAP_EXCEEDED, `The expense would exceed the cap of the ${g.powerCode} grant`, {
            grantId: g.id,
            capFen: g.capFen,
            spentFen: g.spentFen,
            amountFen: cmd.amountFen,
          });
        }
        await this.assertAncestorCaps(em, grant, cmd.amountFen);
      } else if (!(await this.holdsMoneyPowerByLaw(task, principal))) {
        throw new DomainError(ExpenseErrorCode.AUTHORITY_REQUIRED, 'Spending this task’s money needs an active grant of a money-bearing power');
      }

      const [entry] = await this.ledger.post(em, [
        { from: taskAccountId(task.id), to: EXTERNAL_EXPENSE, amountFen: cmd.amountFen, kind: 'expense', taskId: task.id, actorUserId: principal.userId, payee: cmd.payee, note: cmd.note ?? null },
      ]);
      if (grant) {
        grant.spentFen += cmd.amountFen;
        await em.getRepository(GrantEntity).update({ id: grant.id }, { spentFen: grant.spentFen });
      }
      task.version += 1;
      await appendEvent(
        em,
        {
          taskId: task.id,
          action: 'expense',
          fromState: task.state,
          toState: task.state,
          actorUserId: principal.userId,
          actorOrgUnitId: principal.orgUnitId,
          payload: { amountFen: cmd.amountFen, payee: cmd.payee, note: cmd.note ?? null, ledgerEntryId: String(entry.id), grantId: grant?.id ?? null },
          at: now,
        },
        task,
      );
      await em
        .getRepository(TaskEntity)
        .update({ id: task.id }, { version: task.version, lastEventSeq: task.lastEventSeq, lastEventHash: task.lastEventHash });
      const escrowBalanceFen = await this.ledger.balance(taskAccountId(task.id), em);
      return { task, entry, grant, escrowBalanceFen };
    });
  }

  /**
   * A cap bounds everything spent under a grant, including what was spent under the grants derived from it:
   * the grant and its ancestors are locked bottom-up (every expense under a subtree takes the same locks, so the
   * totals read below cannot move) and each capped one must cover its subtree's running total plus this expense.
   */
  private async assertAncestorCaps(em: EntityManager, grant: GrantEntity, amountFen: number): Promise<void> {
    let parentId: string | null = grant.id;
    while (parentId) {
      const [ancestor] = (await em.query(
        'SELECT id, power_code AS powerCode, CAST(cap_fen AS CHAR) AS capFen, parent_grant_id AS parentId FROM grants WHERE id = ? FOR UPDATE',
        [parentId],
      )) as { id: string; powerCode: string; capFen: string | null; parentId: string | null }[];
      if (!ancestor) return;
      if (ancestor.capFen !== null) {
        const [{ used }] = (await em.query(
          `WITH RECURSIVE sub (id) AS (SELECT id FROM grants WHERE id = ? UNION ALL SELECT g.id FROM grants g JOIN sub ON g.parent_grant_id = sub.id)
           SELECT CAST(COALESCE(SUM(spent_fen), 0) AS CHAR) AS used FROM grants WHERE id IN (SELECT id FROM sub) LOCK IN SHARE MODE`,
          [ancestor.id],
        )) as { used: string }[];
        if (Number(used) + amountFen > Number(ancestor.capFen)) {
          const delegated = ancestor.id !== grant.id;
          throw new DomainError(
            ExpenseErrorCode.GRANT_CAP_EXCEEDED,
            delegated
              ? `The expense would exceed the cap of the ${ancestor.powerCode} grant it derives from`
              : `The expense would exceed the cap of the ${ancestor.powerCode} grant, counting what was spent under grants derived from it`,
            { grantId: ancestor.id, capFen: Number(ancestor.capFen), spentFen: Number(used), amountFen, delegated },
          );
        }
      }
      parentId = ancestor.parentId;
    }
  }

  private async holdsMoneyPowerByLaw(task: TaskEntity, principal: Principal): Promise<boolean> {
    const category = await this.ds.getRepository(CategoryEntity).findOneBy({ code: task.categoryCode });
    if (!category?.requiredPowerCodes.length) return false;
    const held = await this.ds.getRepository(PowerEntity).find({ where: { holderOrgUnitId: principal.orgUnitId, bearsMoney: true } });
    return held.some((p) => category.requiredPowerCodes.includes(p.code));
  }
}

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError, registerErrorStatuses, type Principal } from '@gridflow/common';
import type { EffectDescriptor } from '@gridflow/engine';
import type { TaskEntity } from '@gridflow/persistence';
import { JobName } from '@gridflow/queue';
import { GrantsService } from '../grants/grants.service.js';
import { LedgerService, orgAccountId, taskAccountId } from '../ledger/ledger.service.js';
import type { OutboxMessage } from '../outbox/outbox.writer.js';
import type { PublishedWorkflow } from '../workflows/workflow-catalog.service.js';

registerErrorStatuses({ EFFECT_NOT_SUPPORTED: 422 });

export interface EffectContext {
  em: EntityManager;
  /** The locked task; handlers mutate it and the shell saves it once. */
  task: TaskEntity;
  workflow: PublishedWorkflow;
  principal: Principal | null;
  payload: Record<string, unknown>;
  now: Date;
  /** Derived work collected for the outbox. */
  outbox: OutboxMessage[];
}

type Handler = (params: Record<string, unknown>, ctx: EffectContext) => Promise<void> | void;

/**
 * Applies the engine's effect descriptors inside the action's transaction. Money and authority change here,
 * atomically with the state change; anything that can happen later goes to the outbox.
 */
@Injectable()
export class TaskEffects {
  private readonly handlers: Record<string, Handler>;

  constructor(
    private readonly ledger: LedgerService,
    private readonly grants: GrantsService,
  ) {
    this.handlers = {
      setProgress: (p, c) => {
        const percent = Number(p.percent ?? c.payload.percent);
        if (Number.isInteger(percent) && percent >= 0 && percent <= 100) c.task.progress = percent;
      },
      countReturn: (_p, c) => {
        c.task.returnCount += 1;
      },
      countRejection: (_p, c) => {
        c.task.rejectionCount += 1;
      },
      recordExtensionRequest: (_p, c) => {
        c.task.terms = {
          ...(c.task.terms ?? {}),
          pendingExtension: { dueAt: c.payload.dueAt, reason: c.payload.reason, requestedBy: c.principal?.userId ?? null },
        };
      },
      clearExtensionRequest: (_p, c) => this.clearExtension(c),
      // the engine resolves the new due time (payload, else the pending request) into params.dueAt
      extendDue: async (p, c) => {
        if (typeof p.dueAt !== 'string') return;
        const next = new Date(p.dueAt);
        if (next.getTime() <= c.now.getTime()) throw new DomainError('DUE_TIME_INVALID', 'The new due time must be in the future');
        if (c.task.parentId) {
          const [parent] = (await c.em.query('SELECT due_at FROM tasks WHERE id = ?', [c.task.parentId])) as { due_at: Date }[];
          if (parent && next.getTime() > new Date(parent.due_at).getTime()) {
            throw new DomainError('DUE_TIME_AFTER_PARENT', 'A task cannot be extended past its parent’s due time', {
              parentDueAt: new Date(parent.due_at).toISOString(),
            });
          }
        }
        // grants that lasted as long as the task now last as long as the extension, within the grants they derive from
        await c.em.query(
          `UPDATE grants g LEFT JOIN grants p ON p.id = g.parent_grant_id
              SET g.valid_until = CASE WHEN p.valid_until IS NOT NULL AND p.valid_until < ? THEN p.valid_until ELSE ? END
            WHERE g.task_id = ? AND g.status = 'active' AND g.valid_until = ?`,
          [next, next, c.task.id, c.task.dueAt],
        );
        c.task.dueAt = next;
        c.task.extensionCount += 1;
        this.clearExtension(c);
      },
      notify: (p, c) => {
        c.outbox.push({
          jobName: JobName.Notify,
          aggregateId: c.task.id,
          payload: {
            taskId: c.task.id,
            eventSeq: 0,
            template: String(p.template ?? 'task.changed'),
            to: String(p.to ?? 'assignee'),
            ...(Array.isArray(p.userIds) ? { userIds: p.userIds.map(String) } : {}),
          },
        });
      },
      rollUpParent: (_p, c) => {
        if (c.task.parentId) c.outbox.push({ jobName: JobName.RollUp, aggregateId: c.task.parentId, payload: { taskId: c.task.parentId } });
      },
      refundEscrow: (_p, c) => this.returnEscrow(c, 'refund'),
      settleEscrow: (_p, c) => this.returnEscrow(c, 'settlement'),
      revokeGrants: async (_p, c) => {
        await this.grants.revokeForTask(c.em, c.task.id, c.now);
      },
      // timers are carried by the engine's timer plan, which the shell writes
      startTimer: () => undefined,
      cancelTimers: () => undefined,
    };
  }

  async apply(effect: EffectDescriptor, ctx: EffectContext): Promise<void> {
    const handler = this.handlers[effect.name];
    if (!handler) {
      throw new DomainError('EFFECT_NOT_SUPPORTED', `Effect ${effect.name} cannot be used in a task action`, { effect: effect.name });
    }
    await handler(effect.params ?? {}, ctx);
  }

  private clearExtension(c: EffectContext): void {
    if (!c.task.terms?.pendingExtension) return;
    const { pendingExtension: _p, ...rest } = c.task.terms;
    c.task.terms = Object.keys(rest).length ? rest : null;
  }

  /**
   * Unspent escrow flows back to whoever funded the task: the parent's escrow, or the owner's budget. The balance
   * is read under the account's row lock, so a concurrent expense cannot make the transfer overdraw.
   */
  private async returnEscrow(c: EffectContext, kind: 'refund' | 'settlement'): Promise<void> {
    await this.ledger.drain(c.em, {
      from: taskAccountId(c.task.id),
      to: await this.fundingSource(c),
      kind,
      taskId: c.task.id,
      actorUserId: c.principal?.userId ?? null,
    });
  }

  /**
   * Where a task's unspent money goes back to: the nearest ancestor still open (a parent cancelled while this task
   * was open can no longer use or settle money, which would be stranded in its escrow), else the budget of the
   * root's owner. Each ancestor is read under a shared row lock, so it cannot finish before this transaction does.
   */
  private async fundingSource(c: EffectContext): Promise<string> {
    let ownerOrgUnitId = c.task.ownerOrgUnitId;
    let parentId = c.task.parentId;
    while (parentId) {
      const [p] = (await c.em.query(
        'SELECT id, parent_id AS parentId, owner_org_unit_id AS ownerOrgUnitId, is_open AS isOpen ' +
          'FROM tasks WHERE id = ? LOCK IN SHARE MODE',
        [parentId],
      )) as { id: string; parentId: string | null; ownerOrgUnitId: string; isOpen: number | boolean }[];
      if (!p) break;
      if (Number(p.isOpen) === 1) return taskAccountId(p.id);
      ownerOrgUnitId = p.ownerOrgUnitId;
      parentId = p.parentId;
    }
    return orgAccountId(ownerOrgUnitId);
  }
}

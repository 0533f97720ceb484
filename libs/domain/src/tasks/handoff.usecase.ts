import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { DomainError, ErrorCode, hasRole, newId, registerErrorStatuses, type Principal } from '@gridflow/common';
import { CategoryEntity, GrantEntity, type JsonObject, OrgUnitEntity, PowerEntity, TaskEntity } from '@gridflow/persistence';
import { JobName } from '@gridflow/queue';
import { CatalogService } from '../catalog/catalog.service.js';
import { GrantsService } from '../grants/grants.service.js';
import { LedgerService, orgAccountId, type Posting, taskAccountId } from '../ledger/ledger.service.js';
import { OutboxWriter, type OutboxMessage } from '../outbox/outbox.writer.js';
import { WorkflowCatalog } from '../workflows/workflow-catalog.service.js';
import { appendEvent } from './event-chain.js';
import { attenuationViolations, channelAllowed } from './handoff-rules.js';
import { TaskShell } from './task-shell.service.js';
import { transactionWithRetry } from './transaction-retry.js';

export const HandoffErrorCode = {
  HANDOFF_CHANNEL_NOT_ALLOWED: 'HANDOFF_CHANNEL_NOT_ALLOWED',
  POWER_MUST_FOLLOW_RESPONSIBILITY: 'POWER_MUST_FOLLOW_RESPONSIBILITY',
  FUNDS_MUST_FOLLOW_TASK: 'FUNDS_MUST_FOLLOW_TASK',
  GRANT_EXCEEDS_PARENT: 'GRANT_EXCEEDS_PARENT',
  GRANT_SCOPE_INVALID: 'GRANT_SCOPE_INVALID',
  POWER_NOT_HELD: 'POWER_NOT_HELD',
  DUPLICATE_GRANT: 'DUPLICATE_GRANT',
  DUE_TIME_AFTER_PARENT: 'DUE_TIME_AFTER_PARENT',
  UNKNOWN_ORG_UNIT: 'UNKNOWN_ORG_UNIT',
  TASK_NOT_IN_PROGRESS: 'TASK_NOT_IN_PROGRESS',
} as const;

registerErrorStatuses({ TASK_NOT_IN_PROGRESS: 409 });

export interface GrantRequest {
  powerCode: string;
  scopeOrgUnitId?: string;
  capFen?: number;
  validUntil?: Date;
}

export interface HandoffRequest {
  assigneeOrgUnitId: string;
  title?: string;
  dueAt?: Date;
  fundingFen: number;
  grants: GrantRequest[];
  terms?: Record<string, unknown>;
  weight?: number;
}

/** States from which the holder of a task may hand parts of it down. */
const HANDOFF_STATES = ['in_progress'];

interface PlannedChild {
  task: TaskEntity;
  entryState: string;
  grants: GrantEntity[];
  fundingFen: number;
}

/**
 * Hands a task down to one or many receivers, all or nothing: every child gets its funding moved from the sender's
 * escrow (topped up from the sender's budget for a top-level task) and the grants of every power its category
 * requires — unless the work is the receiver's own duty. A community receiving work not on its access list
 * enters consultation instead of waiting for acceptance.
 */
@Injectable()
export class HandoffUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly shell: TaskShell,
    private readonly catalog: CatalogService,
    private readonly ledger: LedgerService,
    private readonly grants: GrantsService,
    private readonly workflows: WorkflowCatalog,
    private readonly outbox: OutboxWriter,
  ) {}

  async execute(principal: Principal, parentId: string, handoffs: HandoffRequest[], now = new Date()): Promise<TaskEntity[]> {
    return transactionWithRetry(this.ds, async (em) => {
      const parent = await this.shell.getVisible(principal, parentId, em, true);
      if (parent.assigneeOrgUnitId !== principal.orgUnitId || !hasRole(principal, 'leader')) {
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only a leader of the unit holding the task can hand it off');
      }
      if (!HANDOFF_STATES.includes(parent.state)) {
        throw new DomainError(HandoffErrorCode.TASK_NOT_IN_PROGRESS, `A task in state ${parent.state} cannot be handed off`);
      }
      const sender = await em.getRepository(OrgUnitEntity).findOneByOrFail({ id: parent.assigneeOrgUnitId });
      const category = await this.catalog.getCategory(parent.categoryCode, em);
      const receivers = await this.loadReceivers(em, handoffs);
      const powers = await this.loadPowers(em, handoffs, category);
      const parentGrants = (await this.grants.listForTask(parent.id, em)).filter(
        (g) => g.granteeOrgUnitId === sender.id && GrantsService.isActive(g, now),
      );
      const wf = await this.workflows.current(category.workflowKey, em);
      const ownDuty = await this.ownDutyReceivers(em, category.code, [...receivers.values()]);

      const planned: PlannedChild[] = [];
      for (const [index, h] of handoffs.entries()) {
        planned.push(await this.plan(em, { index, h, parent, sender, receiver: receivers.get(h.assigneeOrgUnitId)!, ownDuty: ownDuty.has(h.assigneeOrgUnitId), category, powers, parentGrants, now, wfVersion: wf.version, wfKey: wf.key }));
      }

      for (const p of planned) p.task.createdBy = principal.userId;
      const grantRows = planned.flatMap((p) => p.grants);
      for (let i = 0; i < grantRows.length; i += 1000) await em.getRepository(GrantEntity).insert(grantRows.slice(i, i + 1000));
      await this.ledger.post(em, await this.fundingPostings(em, parent, planned, principal));
      await this.shell.startNew(
        em,
        principal,
        wf,
        planned.map((p) => ({
          task: p.task,
          entryState: p.entryState,
          facts: { escrowBalanceFen: p.fundingFen },
          eventPayload: {
            parentId: parent.id,
            fundingFen: p.fundingFen,
            grants: p.grants.map((g) => ({ id: g.id, powerCode: g.powerCode, scopeOrgUnitId: g.scopeOrgUnitId, capFen: g.capFen })),
          },
        })),
        now,
      );
      // one notification job per 500 children: the fan-out's per-child work runs through the queue
      const messages: OutboxMessage[] = [];
      for (const entry of ['pending_acceptance', 'in_consultation']) {
        const ids = planned.filter((p) => p.entryState === entry).map((p) => p.task.id);
        for (let i = 0; i < ids.length; i += 500) {
          messages.push({
            jobName: JobName.Notify,
            aggregateId: parent.id,
            payload: { taskIds: ids.slice(i, i + 500), eventSeq: 1, template: entry === 'in_consultation' ? 'task.consultation' : 'task.assigned', to: 'assignee' },
          });
        }
      }
      parent.version += 1;
      await appendEvent(
        em,
        {
          taskId: parent.id,
          action: 'handoff',
          fromState: parent.state,
          toState: parent.state,
          actorUserId: principal.userId,
          actorOrgUnitId: principal.orgUnitId,
          payload: {
            children: planned.map((p) => ({ taskId: p.task.id, assigneeOrgUnitId: p.task.assigneeOrgUnitId, fundingFen: p.fundingFen, state: p.task.state })),
            fundingFen: planned.reduce((s, p) => s + p.fundingFen, 0),
          },
          at: now,
        },
        parent,
      );
      await em
        .getRepository(TaskEntity)
        .update({ id: parent.id }, { version: parent.version, lastEventSeq: parent.lastEventSeq, lastEventHash: parent.lastEventHash });
      messages.push({ jobName: JobName.RollUp, aggregateId: parent.id, payload: { taskId: parent.id } });
      await this.outbox.add(em, messages);
      return planned.map((p) => p.task);
    });
  }

  private async loadReceivers(em: EntityManager, handoffs: HandoffRequest[]): Promise<Map<string, OrgUnitEntity>> {
    const ids = [...new Set(handoffs.map((h) => h.assigneeOrgUnitId))];
    const units = await em.getRepository(OrgUnitEntity).findBy({ id: In(ids) });
    const found = new Map(units.filter((u) => !u.disabled).map((u) => [u.id, u]));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw new DomainError(HandoffErrorCode.UNKNOWN_ORG_UNIT, 'Unknown or disabled receiving units', { orgUnitIds: missing });
    if (ids.length !== handoffs.length) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'Request validation failed', [
        { field: 'handoffs', errors: ['each receiving unit may appear once in a handoff'] },
      ]);
    }
    return found;
  }

  /** Receivers for which the category is their own statutory duty (by kind or by unit), in one query. */
  private async ownDutyReceivers(em: EntityManager, categoryCode: string, receivers: OrgUnitEntity[]): Promise<Set<string>> {
    const kinds = [...new Set(receivers.map((r) => r.kind))];
    const rows = (await em.query(
      "SELECT scope, scope_value AS v FROM duties WHERE category_code = ? AND ((scope = 'kind' AND scope_value IN (?)) OR (scope = 'unit' AND scope_value IN (?)))",
      [categoryCode, kinds, receivers.map((r) => r.id)],
    )) as { scope: string; v: string }[];
    const byKind = new Set(rows.filter((r) => r.scope === 'kind').map((r) => r.v));
    const byUnit = new Set(rows.filter((r) => r.scope === 'unit').map((r) => r.v));
    return new Set(receivers.filter((r) => byKind.has(r.kind) || byUnit.has(r.id)).map((r) => r.id));
  }

  private async loadPowers(em: EntityManager, handoffs: HandoffRequest[], category: CategoryEntity): Promise<Map<string, PowerEntity>> {
    const codes = [...new Set([...category.requiredPowerCodes, ...handoffs.flatMap((h) => h.grants.map((g) => g.powerCode))])];
    const powers = await this.catalog.requirePowers(codes, em);
    return new Map(powers.map((p) => [p.code, p]));
  }

  private async plan(
    em: EntityManager,
    a: {
      index: number;
      h: HandoffRequest;
      parent: TaskEntity;
      sender: OrgUnitEntity;
      receiver: OrgUnitEntity;
      ownDuty: boolean;
      category: CategoryEntity;
      powers: Map<string, PowerEntity>;
      parentGrants: GrantEntity[];
      now: Date;
      wfKey: string;
      wfVersion: number;
    },
  ): Promise<PlannedChild> {
    const { index, h, parent, sender, receiver, category, now, ownDuty } = a;
    const at = { index, assigneeOrgUnitId: receiver.id };
    if (!channelAllowed(sender, receiver)) {
      throw new DomainError(HandoffErrorCode.HANDOFF_CHANNEL_NOT_ALLOWED, `A ${sender.kind} cannot hand work to this ${receiver.kind}`, {
        ...at,
        senderKind: sender.kind,
        receiverKind: receiver.kind,
      });
    }
    const dueAt = h.dueAt ?? parent.dueAt;
    if (dueAt.getTime() > parent.dueAt.getTime()) {
      throw new DomainError(HandoffErrorCode.DUE_TIME_AFTER_PARENT, 'A child cannot be due after its parent', { ...at, parentDueAt: parent.dueAt.toISOString() });
    }
    if (dueAt.getTime() <= now.getTime()) throw new DomainError('DUE_TIME_INVALID', 'The due time must be in the future', at);
    if (!Number.isSafeInteger(h.fundingFen) || h.fundingFen <= 0) {
      throw new DomainError(HandoffErrorCode.FUNDS_MUST_FOLLOW_TASK, 'A handoff must carry funding (fundingFen > 0)', at);
    }

    const requested = new Set(h.grants.map((g) => g.powerCode));
    if (requested.size !== h.grants.length) throw new DomainError(HandoffErrorCode.DUPLICATE_GRANT, 'A power is granted twice', at);
    const missingPowers = ownDuty ? [] : category.requiredPowerCodes.filter((c) => !requested.has(c));
    if (missingPowers.length) {
      throw new DomainError(
        HandoffErrorCode.POWER_MUST_FOLLOW_RESPONSIBILITY,
        `${category.name} is not this unit's own duty: the handoff must delegate ${missingPowers.join(', ')}`,
        { ...at, missingPowers },
      );
    }

    const id = newId();
    const grants: GrantEntity[] = [];
    for (const [grantIndex, g] of h.grants.entries()) {
      grants.push(await this.planGrant(em, { ...a, g, grantIndex, taskId: id, dueAt }));
    }
    const entryState = receiver.kind === 'community' && !category.onCommunityAccessList ? 'in_consultation' : 'pending_acceptance';
    const task = em.getRepository(TaskEntity).create({
      id,
      title: h.title ?? parent.title,
      description: parent.description,
      categoryCode: category.code,
      ownerOrgUnitId: sender.id,
      assigneeOrgUnitId: receiver.id,
      ownerPath: sender.path,
      assigneePath: receiver.path,
      parentId: parent.id,
      rootId: parent.rootId,
      depth: parent.depth + 1,
      state: '',
      isOpen: true,
      progress: 0,
      weight: h.weight ?? 1,
      dueAt,
      workflowKey: a.wfKey,
      workflowVersion: a.wfVersion,
      version: 0,
      approval: null,
      terms: (h.terms as JsonObject | undefined) ?? null,
      createdBy: '',
      closedAt: null,
    });
    return { task, entryState, grants, fundingFen: h.fundingFen };
  }

  private async planGrant(
    em: EntityManager,
    a: { index: number; grantIndex: number; g: GrantRequest; taskId: string; dueAt: Date; sender: OrgUnitEntity; receiver: OrgUnitEntity; powers: Map<string, PowerEntity>; parentGrants: GrantEntity[]; now: Date },
  ): Promise<GrantEntity> {
    const { g, sender, receiver } = a;
    const at = { index: a.index, powerCode: g.powerCode };
    const power = a.powers.get(g.powerCode)!;
    const scopeId = g.scopeOrgUnitId ?? receiver.id;
    const scope = scopeId === receiver.id ? receiver : await em.getRepository(OrgUnitEntity).findOneBy({ id: scopeId });
    if (!scope || !scope.path.startsWith(receiver.path)) {
      throw new DomainError(HandoffErrorCode.GRANT_SCOPE_INVALID, 'A grant’s scope must be the receiving unit or inside it', at);
    }
    const byLaw = power.holderOrgUnitId === sender.id;
    const parentGrant = byLaw ? undefined : a.parentGrants.find((p) => p.powerCode === g.powerCode);
    if (!byLaw && !parentGrant) {
      throw new DomainError(HandoffErrorCode.POWER_NOT_HELD, `This unit holds ${g.powerCode} neither by law nor by an active grant on this task`, at);
    }
    const capFen = power.bearsMoney ? (g.capFen ?? null) : null;
    // by default a grant lasts as long as the child task, and never beyond the grant it derives from
    const validUntil =
      g.validUntil ??
      (parentGrant?.validUntil && parentGrant.validUntil.getTime() < a.dueAt.getTime() ? parentGrant.validUntil : a.dueAt);
    if (validUntil.getTime() <= a.now.getTime()) throw new DomainError(HandoffErrorCode.GRANT_SCOPE_INVALID, 'A grant must be valid in the future', at);
    if (power.bearsMoney && capFen === null && (!parentGrant || parentGrant.capFen !== null)) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'Request validation failed', [
        { field: `handoffs.${a.index}.grants.${a.grantIndex}.capFen`, errors: [`${g.powerCode} bears money: its grant needs capFen`] },
      ]);
    }
    if (parentGrant) {
      const parentScope = await em.getRepository(OrgUnitEntity).findOneByOrFail({ id: parentGrant.scopeOrgUnitId });
      const violations = attenuationViolations(
        { scopePath: parentScope.path, capFen: parentGrant.capFen, validUntil: parentGrant.validUntil },
        { scopePath: scope.path, capFen, validUntil },
      );
      if (violations.length) {
        throw new DomainError(HandoffErrorCode.GRANT_EXCEEDS_PARENT, `The grant of ${g.powerCode} exceeds the grant it derives from: ${violations.join('; ')}`, {
          ...at,
          parentGrantId: parentGrant.id,
          violations,
        });
      }
    }
    return em.getRepository(GrantEntity).create({
      id: newId(),
      powerCode: g.powerCode,
      grantorOrgUnitId: sender.id,
      granteeOrgUnitId: receiver.id,
      taskId: a.taskId,
      scopeOrgUnitId: scope.id,
      capFen,
      spentFen: 0,
      validUntil,
      parentGrantId: parentGrant?.id ?? null,
      status: 'active',
      revokedAt: null,
    });
  }

  /**
   * Children are funded from the parent's escrow; a top-level task's sender tops the escrow up from its budget.
   * One `post` call with every posting, so the accounts are locked once, in order.
   */
  private async fundingPostings(em: EntityManager, parent: TaskEntity, planned: PlannedChild[], principal: Principal): Promise<Posting[]> {
    const escrow = taskAccountId(parent.id);
    let available = parent.parentId === null ? await this.ledger.balance(escrow, em) : Number.POSITIVE_INFINITY;
    const postings: Posting[] = [];
    for (const p of planned) {
      const fromEscrow = Math.min(p.fundingFen, available);
      available -= fromEscrow;
      const base = { to: taskAccountId(p.task.id), kind: 'funding' as const, taskId: p.task.id, actorUserId: principal.userId };
      if (fromEscrow > 0) postings.push({ ...base, from: escrow, amountFen: fromEscrow });
      if (fromEscrow < p.fundingFen) postings.push({ ...base, from: orgAccountId(parent.assigneeOrgUnitId), amountFen: p.fundingFen - fromEscrow });
    }
    return postings;
  }
}

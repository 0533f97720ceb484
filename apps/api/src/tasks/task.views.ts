import type { GrantEntity, TaskEntity, TaskEventEntity } from '@gridflow/persistence';

/** DESIGN's Task shape. `overdue`: still open and past its due time. */
export function taskView(task: TaskEntity, escrowBalanceFen: number, now = new Date()) {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    categoryCode: task.categoryCode,
    ownerOrgUnitId: task.ownerOrgUnitId,
    assigneeOrgUnitId: task.assigneeOrgUnitId,
    parentId: task.parentId,
    state: task.state,
    progress: task.progress,
    weight: task.weight,
    dueAt: task.dueAt.toISOString(),
    overdue: task.isOpen && task.dueAt.getTime() < now.getTime(),
    escrowBalanceFen,
    workflowKey: task.workflowKey,
    workflowVersion: task.workflowVersion,
    version: task.version,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
    children: {
      total: task.childrenTotal,
      open: task.childrenOpen,
      closed: task.childrenClosed,
      returned: task.childrenReturned,
      overdue: task.childrenOverdue,
    },
  };
}

/** DESIGN's Grant shape. */
export function grantView(g: GrantEntity, now = new Date()) {
  const expired = g.status === 'active' && g.validUntil !== null && g.validUntil.getTime() <= now.getTime();
  return {
    id: g.id,
    powerCode: g.powerCode,
    grantorOrgUnitId: g.grantorOrgUnitId,
    granteeOrgUnitId: g.granteeOrgUnitId,
    taskId: g.taskId,
    scopeOrgUnitId: g.scopeOrgUnitId,
    capFen: g.capFen,
    spentFen: g.spentFen,
    validUntil: g.validUntil ? g.validUntil.toISOString() : null,
    parentGrantId: g.parentGrantId,
    status: expired ? 'expired' : g.status,
  };
}

/** DESIGN's Event shape. */
export function eventView(e: TaskEventEntity) {
  return {
    seq: e.seq,
    taskId: e.taskId,
    action: e.action,
    fromState: e.fromState,
    toState: e.toState,
    actorUserId: e.actorUserId,
    actorOrgUnitId: e.actorOrgUnitId,
    payload: e.payload,
    at: e.at.toISOString(),
    hash: e.hash,
    prevHash: e.prevHash,
  };
}

/** Task detail: the task, plus counters, terms, approval in progress and grants. */
export function taskDetailView(task: TaskEntity, escrowBalanceFen: number, grants: GrantEntity[], now = new Date()) {
  return {
    ...taskView(task, escrowBalanceFen, now),
    terms: task.terms,
    approval: task.approval,
    counters: { returns: task.returnCount, rejections: task.rejectionCount, extensions: task.extensionCount },
    closedAt: task.closedAt ? task.closedAt.toISOString() : null,
    grants: grants.map((g) => grantView(g, now)),
    ...lateness(task, now),
  };
}

/**
 * How late: `overdueBy` is the seconds past the due time (now for an open task, at closing for a closed one; 0 when
 * on time), `overdueSince` when it was first found overdue, `escalationLevel` the highest rung reached (0 none,
 * 1 催办, 2 督办, 3 挂牌督办).
 */
function lateness(task: TaskEntity, now: Date) {
  const end = task.isOpen ? now.getTime() : (task.closedAt ?? now).getTime();
  return {
    escalationLevel: task.escalationLevel ?? 0,
    overdueBy: Math.max(0, Math.floor((end - task.dueAt.getTime()) / 1000)),
    overdueSince: task.overdueSince ? task.overdueSince.toISOString() : null,
  };
}

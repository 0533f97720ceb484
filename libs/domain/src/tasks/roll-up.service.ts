import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { TaskEntity, updateById } from '@gridflow/persistence';
import { JobName } from '@gridflow/queue';
import { OutboxWriter } from '../outbox/outbox.writer.js';
import { loadTask } from './task-shell.service.js';

/** States of a child that no longer count toward its parent's work. */
const GONE = ['returned', 'withdrawn', 'cancelled'];

export interface RollUpResult {
  changed: boolean;
  progress: number;
}

/**
 * Recomputes a parent's weighted progress and child counts from its children (the database is the truth), and
 * when anything changed, schedules the same for the grandparent through the outbox. A recompute is idempotent:
 * running it twice, or late, yields the same row.
 */
@Injectable()
export class RollUpService {
  constructor(private readonly outbox: OutboxWriter) {}

  async rollUp(em: EntityManager, taskId: string, now = new Date()): Promise<RollUpResult | null> {
    const parent = await loadTask(em, taskId, true);
    if (!parent) return null;
    const [agg] = (await em.query(
      `SELECT COUNT(*) AS total,
              COALESCE(SUM(is_open), 0) AS open,
              COALESCE(SUM(state = 'closed'), 0) AS closed,
              COALESCE(SUM(state IN (?)), 0) AS returned,
              COALESCE(SUM(is_open = 1 AND due_at < ?), 0) AS overdue,
              COALESCE(SUM(CASE WHEN state NOT IN (?) THEN weight END), 0) AS w,
              COALESCE(SUM(CASE WHEN state NOT IN (?) THEN weight * progress END), 0) AS wp
         FROM tasks WHERE parent_id = ?`,
      [['returned', 'withdrawn'], now, GONE, GONE, taskId],
    )) as Record<string, string | number>[];
    const n = (k: string) => Number(agg[k] ?? 0);
    const progress = n('w') > 0 ? Math.round(n('wp') / n('w')) : parent.progress;
    const next = {
      childrenTotal: n('total'),
      childrenOpen: n('open'),
      childrenClosed: n('closed'),
      childrenReturned: n('returned'),
      childrenOverdue: n('overdue'),
      progress: parent.isOpen ? progress : parent.progress,
    };
    const changed = (Object.keys(next) as (keyof typeof next)[]).some((k) => parent[k] !== next[k]);
    if (!changed) return { changed: false, progress: parent.progress };
    await updateById(em, TaskEntity, taskId, next);
    if (parent.parentId && next.progress !== parent.progress) {
      await this.outbox.add(em, [{ jobName: JobName.RollUp, aggregateId: parent.parentId, payload: { taskId: parent.parentId } }]);
    }
    return { changed: true, progress: next.progress };
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';

export interface SupervisionItem {
  id: string;
  taskId: string;
  title: string;
  level: number;
  supervisorOrgUnitId: string;
  assigneeOrgUnitId: string;
  dueAt: string;
  createdAt: string;
  resolvedAt: string | null;
}

/**
 * Supervision entries (督办 / 挂牌督办) opened by the escalation ladder. A caller sees the entries of the tasks it
 * may see (its unit's and its subtree's tasks), which is what makes listed supervision visible to the district.
 */
@Injectable()
export class SupervisionService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async list(
    principal: Principal,
    q: { level?: number; open?: boolean; limit: number; afterId?: string },
  ): Promise<SupervisionItem[]> {
    const where: string[] = ['(t.assignee_path LIKE ? OR t.owner_path LIKE ?)'];
    const params: unknown[] = [`${principal.orgUnitPath}%`, `${principal.orgUnitPath}%`];
    if (q.level !== undefined) {
      where.push('s.level = ?');
      params.push(q.level);
    }
    if (q.open === true) where.push('s.resolved_at IS NULL');
    if (q.open === false) where.push('s.resolved_at IS NOT NULL');
    if (q.afterId) {
      where.push('s.id < ?');
      params.push(q.afterId);
    }
    const rows = (await this.ds.query(
      `SELECT s.id, s.task_id, t.title, s.level, s.supervisor_org_unit_id, t.assignee_org_unit_id, t.due_at, s.created_at, s.resolved_at
         FROM supervision_entries s JOIN tasks t ON t.id = s.task_id
        WHERE ${where.join(' AND ')} ORDER BY s.id DESC LIMIT ${Number(q.limit) + 1}`,
      params,
    )) as Record<string, unknown>[];
    const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
    return rows.map((r) => ({
      id: String(r.id),
      taskId: String(r.task_id),
      title: String(r.title),
      level: Number(r.level),
      supervisorOrgUnitId: String(r.supervisor_org_unit_id),
      assigneeOrgUnitId: String(r.assignee_org_unit_id),
      dueAt: iso(r.due_at) as string,
      createdAt: iso(r.created_at) as string,
      resolvedAt: iso(r.resolved_at),
    }));
  }

  /** Resolves the open entries of tasks that reached a final state (run by the sweeper). Returns how many. */
  async resolveClosed(): Promise<number> {
    const res = (await this.ds.query(
      `UPDATE supervision_entries s JOIN tasks t ON t.id = s.task_id
          SET s.resolved_at = COALESCE(t.closed_at, NOW(3))
        WHERE s.resolved_at IS NULL AND t.is_open = 0`,
    )) as { affectedRows?: number };
    return res.affectedRows ?? 0;
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { GrantEntity } from '@gridflow/persistence';

/**
 * Authority grants. A grant is issued with a handoff, narrowed on each further handoff, revoked when its task is
 * returned, withdrawn, cancelled or closed (and with it every grant derived from it), and expires with time.
 */
@Injectable()
export class GrantsService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async listForTask(taskId: string, em: EntityManager = this.ds.manager): Promise<GrantEntity[]> {
    return em.getRepository(GrantEntity).find({ where: { taskId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Revokes the task's active grants and, transitively, every active grant derived from them. */
  async revokeForTask(em: EntityManager, taskId: string, at: Date): Promise<number> {
    const ids = async (column: 'task_id' | 'parent_grant_id', values: string[]) =>
      (
        (await em.query(
          `SELECT id FROM grants WHERE ${column} IN (${values.map(() => '?').join(', ')}) AND status = 'active'`,
          values,
        )) as { id: string }[]
      ).map((g) => g.id);
    let frontier = await ids('task_id', [taskId]);
    let revoked = 0;
    while (frontier.length) {
      await em.query(
        `UPDATE grants SET status = 'revoked', revoked_at = ? WHERE id IN (${frontier.map(() => '?').join(', ')}) AND status = 'active'`,
        [at, ...frontier],
      );
      revoked += frontier.length;
      frontier = await ids('parent_grant_id', frontier);
    }
    return revoked;
  }

  /** Active means: status active and not past its validity. */
  static isActive(g: GrantEntity, at: Date): boolean {
    return g.status === 'active' && (!g.validUntil || g.validUntil.getTime() > at.getTime());
  }
}

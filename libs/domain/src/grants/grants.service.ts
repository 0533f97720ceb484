import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
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
    const repo = em.getRepository(GrantEntity);
    let frontier = (await repo.find({ where: { taskId, status: 'active' }, select: { id: true } })).map((g) => g.id);
    let revoked = 0;
    while (frontier.length) {
      await repo.update({ id: In(frontier), status: 'active' }, { status: 'revoked', revokedAt: at });
      revoked += frontier.length;
      frontier = (await repo.find({ where: { parentGrantId: In(frontier), status: 'active' }, select: { id: true } })).map(
        (g) => g.id,
      );
    }
    return revoked;
  }

  /** Active means: status active and not past its validity. */
  static isActive(g: GrantEntity, at: Date): boolean {
    return g.status === 'active' && (!g.validUntil || g.validUntil.getTime() > at.getTime());
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { inScope, NotFoundError, type Principal } from '@gridflow/common';
import { OrgUnitEntity, OrgUnitKind } from '@gridflow/persistence';

export interface OrgUnitView {
  id: string;
  code: string;
  name: string;
  kind: OrgUnitKind;
  parentId: string | null;
  path: string;
  disabled: boolean;
}

export function toOrgUnitView(u: OrgUnitEntity): OrgUnitView {
  return { id: u.id, code: u.code, name: u.name, kind: u.kind, parentId: u.parentId, path: u.path, disabled: u.disabled };
}

/**
 * Reads of the org tree. Every scoped method takes the principal first: a caller sees its own unit and its subtree,
 * and anything else is reported as not found (never as forbidden, which would confirm it exists).
 */
@Injectable()
export class OrgDirectory {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  private get repo() {
    return this.ds.getRepository(OrgUnitEntity);
  }

  /** Unscoped lookup for internal use (workers, rules); never return its result to a caller unchecked. */
  async findById(id: string): Promise<OrgUnitEntity | null> {
    return this.repo.findOneBy({ id });
  }

  async findByIds(ids: string[]): Promise<OrgUnitEntity[]> {
    return ids.length ? this.repo.findBy({ id: In(ids) }) : [];
  }

  async getInScope(principal: Principal, id: string): Promise<OrgUnitEntity> {
    const unit = await this.findById(id);
    if (!unit || !inScope(principal, unit.path)) throw new NotFoundError('Org unit');
    return unit;
  }

  async listInScope(
    principal: Principal,
    filter: { parentId?: string; kind?: OrgUnitKind; limit: number; cursor?: string },
  ): Promise<{ items: OrgUnitEntity[]; nextCursor: string | null }> {
    const qb = this.repo
      .createQueryBuilder('u')
      .where('u.path LIKE :prefix', { prefix: `${principal.orgUnitPath}%` })
      .orderBy('u.path', 'ASC')
      .take(filter.limit + 1);
    if (filter.parentId) qb.andWhere('u.parent_id = :parentId', { parentId: filter.parentId });
    if (filter.kind) qb.andWhere('u.kind = :kind', { kind: filter.kind });
    if (filter.cursor) qb.andWhere('u.path > :cursor', { cursor: filter.cursor });
    const rows = await qb.getMany();
    const more = rows.length > filter.limit;
    const items = more ? rows.slice(0, filter.limit) : rows;
    return { items, nextCursor: more ? items[items.length - 1].path : null };
  }
}

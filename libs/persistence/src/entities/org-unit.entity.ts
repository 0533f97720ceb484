import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from './timestamps.js';

export const ORG_UNIT_KINDS = ['district', 'department', 'street', 'section', 'community', 'grid'] as const;
export type OrgUnitKind = (typeof ORG_UNIT_KINDS)[number];

/**
 * A node of the administrative tree. `path` is the materialised path of ids from the root, each followed by a
 * slash (`/<root>/<child>/`), so a subtree is a prefix match on an indexed column.
 */
@Entity({ name: 'org_units' })
@Index('ix_org_units_parent', ['parentId'])
@Index('ix_org_units_kind', ['kind'])
export class OrgUnitEntity {
  @PrimaryColumn({ type: 'char', length: 36 })
  id: string;

  @Index('ux_org_units_code', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  code: string;

  @Column({ type: 'varchar', length: 128 })
  name: string;

  @Column({ type: 'varchar', length: 16 })
  kind: OrgUnitKind;

  @Column({ name: 'parent_id', type: 'char', length: 36, nullable: true, default: null })
  parentId: string | null;

  @Index('ix_org_units_path')
  @Column({ type: 'varchar', length: 760 })
  path: string;

  @Column({ type: 'smallint', unsigned: true })
  depth: number;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}

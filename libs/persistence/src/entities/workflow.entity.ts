import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from './timestamps.js';
import { jsonTransformer, type JsonObject } from './transformers.js';

/** A workflow key with its editable draft. Published versions live in workflow_versions and never change. */
@Entity({ name: 'workflows' })
export class WorkflowEntity {
  @PrimaryColumn({ name: 'workflow_key', type: 'varchar', length: 64 })
  key: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'longtext', transformer: jsonTransformer })
  draft: JsonObject;

  @Column({ name: 'draft_updated_by', type: 'char', length: 36, nullable: true, default: null })
  draftUpdatedBy: string | null;

  @Column({ name: 'latest_version', type: 'int', unsigned: true, default: 0 })
  latestVersion: number;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}

/** A published, frozen version of a workflow. Tasks are pinned to (key, version). */
@Entity({ name: 'workflow_versions' })
export class WorkflowVersionEntity {
  @PrimaryColumn({ name: 'workflow_key', type: 'varchar', length: 64 })
  key: string;

  @PrimaryColumn({ type: 'int', unsigned: true })
  version: number;

  @Column({ type: 'longtext', transformer: jsonTransformer })
  definition: JsonObject;

  @Column({ type: 'char', length: 64 })
  hash: string;

  @Column({ name: 'published_at', type: 'datetime', precision: 3 })
  publishedAt: Date;

  @Column({ name: 'published_by', type: 'char', length: 36, nullable: true, default: null })
  publishedBy: string | null;

  @Column({ type: 'boolean', default: false })
  deprecated: boolean;
}

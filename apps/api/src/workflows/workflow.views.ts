import type { WorkflowEntity, WorkflowVersionEntity } from '@gridflow/persistence';

export const workflowView = (w: WorkflowEntity) => ({
  key: w.key,
  name: w.name,
  latestVersion: w.latestVersion,
  draft: w.draft,
  draftUpdatedBy: w.draftUpdatedBy,
  createdAt: w.createdAt.toISOString(),
  updatedAt: w.updatedAt.toISOString(),
});

/** DESIGN: a version is `{key, version, definition, hash, publishedAt, publishedBy, deprecated}`. */
export const versionView = (v: WorkflowVersionEntity) => ({
  key: v.key,
  version: v.version,
  definition: v.definition,
  hash: v.hash,
  publishedAt: v.publishedAt.toISOString(),
  publishedBy: v.publishedBy,
  deprecated: v.deprecated,
});

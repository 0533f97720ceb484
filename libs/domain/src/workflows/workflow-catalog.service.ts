import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '@gridflow/common';
import { compile, type CompiledDefinition, definitionHash, loadDefinition, type WorkflowDefinition } from '@gridflow/engine';
import { WorkflowEntity, WorkflowVersionEntity } from '@gridflow/persistence';
import { WorkflowErrorCode } from './workflow-errors.js';

export interface PublishedWorkflow {
  key: string;
  version: number;
  definition: WorkflowDefinition;
  compiled: CompiledDefinition;
  hash: string;
  deprecated: boolean;
}

/**
 * Published workflow versions. A version never changes once published, so compiled versions are cached per
 * process forever; only the `deprecated` flag is re-read when a new task picks its version.
 */
@Injectable()
export class WorkflowCatalog {
  private readonly cache = new Map<string, PublishedWorkflow>();

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Validates a definition (JSON object or YAML/JSON text); throws WORKFLOW_INVALID with every error. */
  static parseOrThrow(input: unknown, expectedKey?: string): WorkflowDefinition {
    const result = loadDefinition(input as string | object);
    if (!result.ok) {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_INVALID, 'The workflow definition is invalid', { errors: result.errors });
    }
    if (expectedKey && result.definition.key !== expectedKey) {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_KEY_MISMATCH, `The definition's key must be "${expectedKey}"`);
    }
    return result.definition;
  }

  async version(key: string, version: number, em: EntityManager = this.ds.manager): Promise<PublishedWorkflow> {
    const id = `${key}@${version}`;
    const hit = this.cache.get(id);
    if (hit) return hit;
    const row = await em.getRepository(WorkflowVersionEntity).findOneBy({ key, version });
    if (!row) throw new DomainError(WorkflowErrorCode.WORKFLOW_VERSION_NOT_FOUND, `Workflow ${key} has no version ${version}`);
    const definition = row.definition as unknown as WorkflowDefinition;
    const published: PublishedWorkflow = {
      key,
      version,
      definition,
      compiled: compile(definition),
      hash: row.hash,
      deprecated: row.deprecated,
    };
    this.cache.set(id, published);
    return published;
  }

  /** The newest version that is not deprecated: what a new task is pinned to. */
  async current(key: string, em: EntityManager = this.ds.manager): Promise<PublishedWorkflow> {
    const row = await em
      .getRepository(WorkflowVersionEntity)
      .createQueryBuilder('v')
      .select(['v.key', 'v.version'])
      .where('v.workflow_key = :key AND v.deprecated = 0', { key })
      .orderBy('v.version', 'DESC')
      .getOne();
    if (!row) {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_NOT_PUBLISHED, `Workflow ${key} has no published, non-deprecated version`);
    }
    return this.version(key, row.version, em);
  }

  /** Freezes the draft of `key` as the next version. Serialised per key by a row lock on the workflow. */
  async publish(key: string, publishedBy: string | null, em: EntityManager): Promise<WorkflowVersionEntity> {
    const wf = await em.getRepository(WorkflowEntity).findOne({ where: { key }, lock: { mode: 'pessimistic_write' } });
    if (!wf) throw new DomainError(WorkflowErrorCode.WORKFLOW_NOT_FOUND, `No workflow ${key}`);
    const definition = WorkflowCatalog.parseOrThrow(wf.draft, key);
    const hash = definitionHash(definition);
    if (wf.latestVersion > 0) {
      const latest = await em.getRepository(WorkflowVersionEntity).findOneBy({ key, version: wf.latestVersion });
      if (latest?.hash === hash) {
        throw new DomainError(WorkflowErrorCode.WORKFLOW_DRAFT_UNCHANGED, `The draft equals version ${wf.latestVersion}`);
      }
    }
    const version = wf.latestVersion + 1;
    const row = em.getRepository(WorkflowVersionEntity).create({
      key,
      version,
      definition: definition as unknown as Record<string, unknown>,
      hash,
      publishedAt: new Date(),
      publishedBy,
      deprecated: false,
    });
    await em.getRepository(WorkflowVersionEntity).insert(row);
    await em.getRepository(WorkflowEntity).update({ key }, { latestVersion: version });
    return em.getRepository(WorkflowVersionEntity).findOneByOrFail({ key, version });
  }

  /** Sets the deprecated flag of a version (new tasks skip deprecated versions; running tasks keep theirs). */
  async setDeprecated(key: string, version: number, deprecated: boolean): Promise<void> {
    const res = await this.ds.getRepository(WorkflowVersionEntity).update({ key, version }, { deprecated });
    if (!res.affected) throw new DomainError(WorkflowErrorCode.WORKFLOW_VERSION_NOT_FOUND, `Workflow ${key} has no version ${version}`);
    const hit = this.cache.get(`${key}@${version}`);
    if (hit) hit.deprecated = deprecated;
  }
}

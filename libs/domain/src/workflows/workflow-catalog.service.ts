import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '@gridflow/common';
import {
  applyTimerPolicy,
  compile,
  type CompiledDefinition,
  definitionHash,
  loadDefinition,
  type TimerPolicy,
  type WorkflowDefinition,
} from '@gridflow/engine';
import { CategoryEntity, WorkflowEntity, WorkflowVersionEntity } from '@gridflow/persistence';
import { WorkflowErrorCode } from './workflow-errors.js';

export interface PublishedWorkflow {
  key: string;
  version: number;
  definition: WorkflowDefinition;
  compiled: CompiledDefinition;
  hash: string;
  deprecated: boolean;
  /** The category whose timer policy is applied to `definition` and `compiled`, if any. */
  policyOf?: string;
}

/** How long a category's timer policy is cached per process: an administrator's change reaches every process within it. */
const POLICY_CACHE_MS = 10_000;

/**
 * SQL of the current version of the workflow whose key `keySql` gives (a parameter or a column): the highest version
 * not deprecated, or NULL. New tasks are pinned to it.
 */
export const currentVersionSql = (keySql: string): string =>
  `(SELECT MAX(v.version) FROM workflow_versions v WHERE v.workflow_key = ${keySql} AND v.deprecated = 0)`;

/**
 * Published workflow versions. A version never changes once published, so compiled versions are cached per
 * process forever; only the `deprecated` flag is re-read when a new task picks its version.
 */
@Injectable()
export class WorkflowCatalog {
  private readonly logger = new Logger(WorkflowCatalog.name);
  private readonly cache = new Map<string, PublishedWorkflow>();
  /** Per category: its policy and a digest of it (the key of the compiled version with the policy applied). */
  private readonly policies = new Map<string, { at: number; policy: TimerPolicy | null; digest: string }>();
  private readonly withPolicies = new Map<string, PublishedWorkflow>();
  /**
   * Versions being read and compiled, by `key@version`: a read on a connection its caller held (in a transaction), and
   * one on the pool's manager.
   */
  private readonly loading = new Map<string, { held?: Promise<PublishedWorkflow>; pool?: Promise<PublishedWorkflow> }>();

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The workflow version a task is pinned to, with its category's timer policy applied. */
  async forTask(
    task: { workflowKey: string; workflowVersion: number; categoryCode: string },
    em: EntityManager = this.ds.manager,
  ): Promise<PublishedWorkflow> {
    return this.withCategoryPolicy(await this.version(task.workflowKey, task.workflowVersion, em), task.categoryCode, em);
  }

  /**
   * A published version with the category's timer policy applied (compiled once per version and policy). A policy
   * that does not fit this version (it names a state an older version lacks) is ignored with a warning: the
   * workflow's own timers run.
   */
  async withCategoryPolicy(wf: PublishedWorkflow, categoryCode: string, em: EntityManager = this.ds.manager): Promise<PublishedWorkflow> {
    const { policy, digest } = await this.cachedPolicy(categoryCode, em);
    if (!policy) return wf;
    const id = `${wf.key}@${wf.version}#${digest}`;
    const hit = this.withPolicies.get(id);
    if (hit) return hit;
    const applied = applyTimerPolicy(wf.definition, policy);
    if (!applied.ok) {
      // remembered like a fitting one, so the check and the warning happen once per version and policy
      this.logger.warn(`timer policy of ${categoryCode} does not fit ${wf.key}@${wf.version}: ${applied.errors[0]?.message}`);
      this.withPolicies.set(id, wf);
      return wf;
    }
    const out: PublishedWorkflow = { ...wf, definition: applied.definition, compiled: compile(applied.definition), policyOf: categoryCode };
    this.withPolicies.set(id, out);
    return out;
  }

  /** A category's timer policy (cached for a few seconds). */
  async policyOf(categoryCode: string, em: EntityManager = this.ds.manager): Promise<TimerPolicy | null> {
    return (await this.cachedPolicy(categoryCode, em)).policy;
  }

  private async cachedPolicy(categoryCode: string, em: EntityManager): Promise<{ policy: TimerPolicy | null; digest: string }> {
    const hit = this.policies.get(categoryCode);
    if (hit && Date.now() - hit.at < POLICY_CACHE_MS) return hit;
    const row = await em.getRepository(CategoryEntity).findOne({ where: { code: categoryCode }, select: { code: true, timerPolicy: true } });
    const policy = (row?.timerPolicy as TimerPolicy | null | undefined) ?? null;
    const digest = policy ? createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 16) : '';
    const entry = { at: Date.now(), policy, digest };
    this.policies.set(categoryCode, entry);
    return entry;
  }

  /**
   * Checks a category's timer policy against the current version of its workflow; throws TIMER_POLICY_INVALID with
   * every error, each at a JSON pointer under `/timerPolicy`.
   */
  async checkTimerPolicy(workflowKey: string, policy: unknown, em: EntityManager = this.ds.manager): Promise<void> {
    if (policy === null || policy === undefined) return;
    const wf = await this.current(workflowKey, em);
    const applied = applyTimerPolicy(wf.definition, policy as TimerPolicy);
    if (applied.ok) return;
    throw new DomainError(WorkflowErrorCode.TIMER_POLICY_INVALID, `The timer policy does not fit workflow ${workflowKey} version ${wf.version}`, {
      errors: applied.errors.map((e) => ({ ...e, path: `/timerPolicy${e.path}` })),
    });
  }

  /** Forgets a category's cached policy in this process (after an administrator changed it here). */
  forgetPolicy(categoryCode: string): void {
    this.policies.delete(categoryCode);
  }

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
    // callers that miss together (the batches of a timer burst, the requests right after a start) share one read and
    // one compile. A caller inside a transaction holds a pooled connection: it joins only a read that runs on a
    // connection already held, never one that may still wait for the pool (with the pool full of such callers, that
    // read would never get a connection); a caller outside holds none and joins either
    const held = em.queryRunner !== undefined;
    const running = this.loading.get(id) ?? {};
    const join = running.held ?? (held ? undefined : running.pool);
    if (join) return join;
    const promise = this.load(key, version, em);
    const slot = held ? 'held' : 'pool';
    running[slot] = promise;
    this.loading.set(id, running);
    const forget = () => {
      if (running[slot] === promise) delete running[slot];
      if (!running.held && !running.pool && this.loading.get(id) === running) this.loading.delete(id);
    };
    promise.then(forget, forget);
    return promise;
  }

  private async load(key: string, version: number, em: EntityManager): Promise<PublishedWorkflow> {
    const id = `${key}@${version}`;
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
    const [row] = (await em.query(`SELECT ${currentVersionSql('?')} AS version`, [key])) as { version: number | string | null }[];
    return this.published(key, row?.version ?? null, em);
  }

  /**
   * The current version of `key` from its number, as a statement of the caller's read it with `currentVersionSql`
   * (null: no version is published and not deprecated).
   */
  async published(key: string, version: number | string | null, em: EntityManager = this.ds.manager): Promise<PublishedWorkflow> {
    if (version === null) {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_NOT_PUBLISHED, `Workflow ${key} has no published, non-deprecated version`);
    }
    return this.version(key, Number(version), em);
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

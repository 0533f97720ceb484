import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, type Principal } from '@gridflow/common';
import {
  canMigrate,
  diffDefinitions,
  parseDefinition,
  validateDefinition,
  type DefinitionDiff,
  type ValidationResult,
  type WorkflowDefinition,
} from '@gridflow/engine';
import { type JsonObject, TaskEntity, WorkflowEntity, WorkflowVersionEntity } from '@gridflow/persistence';
import { appendEvent } from '../tasks/event-chain.js';
import { WorkflowCatalog } from './workflow-catalog.service.js';
import { WorkflowErrorCode } from './workflow-errors.js';

export interface MigrationReport {
  key: string;
  fromVersion: number;
  toVersion: number;
  openTasks: number;
  byState: Record<string, number>;
  missingStates: string[];
  ok: boolean;
  applied: boolean;
  migratedTasks: number;
}

function validationOf(input: unknown): { parsed: unknown; validation: ValidationResult } {
  try {
    const parsed = parseDefinition(input as string | object);
    return { parsed, validation: validateDefinition(parsed) };
  } catch (e) {
    return { parsed: null, validation: { valid: false, errors: [{ path: '', code: 'SCHEMA', message: (e as Error).message }] } };
  }
}

/** Administration of workflow definitions: drafts, validation, publishing, deprecation, diffs and migrations. */
@Injectable()
export class WorkflowAdmin {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly catalog: WorkflowCatalog,
  ) {}

  validate(input: unknown): ValidationResult {
    return validationOf(input).validation;
  }

  async list(): Promise<WorkflowEntity[]> {
    return this.ds.getRepository(WorkflowEntity).find({ order: { key: 'ASC' } });
  }

  async get(key: string): Promise<WorkflowEntity> {
    const wf = await this.ds.getRepository(WorkflowEntity).findOneBy({ key });
    if (!wf) throw new DomainError(WorkflowErrorCode.WORKFLOW_NOT_FOUND, `No workflow ${key}`);
    return wf;
  }

  /** Creates a workflow with its first draft. The draft must at least parse and name its key. */
  async create(principal: Principal, input: unknown): Promise<{ workflow: WorkflowEntity; validation: ValidationResult }> {
    const { parsed, validation } = validationOf(input);
    const draft = parsed as Partial<WorkflowDefinition> | null;
    if (!draft || typeof draft !== 'object' || typeof draft.key !== 'string' || !/^[a-z][a-z0-9-]{1,63}$/.test(draft.key)) {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_INVALID, 'A workflow needs a key of 2–64 lowercase letters, digits or dashes', {
        errors: validation.errors,
      });
    }
    const repo = this.ds.getRepository(WorkflowEntity);
    if (await repo.existsBy({ key: draft.key })) throw new DomainError(WorkflowErrorCode.WORKFLOW_EXISTS, `Workflow ${draft.key} exists`);
    const workflow = repo.create({
      key: draft.key,
      name: typeof draft.name === 'string' && draft.name ? draft.name.slice(0, 200) : draft.key,
      draft: draft as Record<string, unknown>,
      draftUpdatedBy: principal.userId,
      latestVersion: 0,
    });
    try {
      await repo.insert(workflow);
    } catch (e) {
      if ((e as { code?: string }).code === 'ER_DUP_ENTRY') throw new DomainError(WorkflowErrorCode.WORKFLOW_EXISTS, `Workflow ${draft.key} exists`);
      throw e;
    }
    return { workflow: await this.get(draft.key), validation };
  }

  /** Replaces the draft. Published versions are untouched; running tasks keep their version. */
  async saveDraft(principal: Principal, key: string, input: unknown): Promise<{ workflow: WorkflowEntity; validation: ValidationResult }> {
    await this.get(key);
    const { parsed, validation } = validationOf(input);
    const draft = parsed as Partial<WorkflowDefinition> | null;
    if (!draft || typeof draft !== 'object') {
      throw new DomainError(WorkflowErrorCode.WORKFLOW_INVALID, 'The draft does not parse', { errors: validation.errors });
    }
    if (draft.key !== key) throw new DomainError(WorkflowErrorCode.WORKFLOW_KEY_MISMATCH, `The definition's key must be "${key}"`);
    await this.ds.getRepository(WorkflowEntity).update(
      { key },
      { draft: draft as JsonObject, draftUpdatedBy: principal.userId, ...(typeof draft.name === 'string' && draft.name ? { name: draft.name.slice(0, 200) } : {}) },
    );
    return { workflow: await this.get(key), validation };
  }

  async publish(principal: Principal, key: string): Promise<WorkflowVersionEntity> {
    return this.ds.transaction((em) => this.catalog.publish(key, principal.userId, em));
  }

  async versions(key: string): Promise<WorkflowVersionEntity[]> {
    await this.get(key);
    return this.ds.getRepository(WorkflowVersionEntity).find({ where: { key }, order: { version: 'ASC' } });
  }

  async version(key: string, version: number): Promise<WorkflowVersionEntity> {
    const row = await this.ds.getRepository(WorkflowVersionEntity).findOneBy({ key, version });
    if (!row) throw new DomainError(WorkflowErrorCode.WORKFLOW_VERSION_NOT_FOUND, `Workflow ${key} has no version ${version}`);
    return row;
  }

  async deprecate(key: string, version: number, deprecated: boolean): Promise<WorkflowVersionEntity> {
    await this.catalog.setDeprecated(key, version, deprecated);
    return this.version(key, version);
  }

  async diff(key: string, from: number, to: number): Promise<DefinitionDiff> {
    const [a, b] = await Promise.all([this.version(key, from), this.version(key, to)]);
    return diffDefinitions(a.definition as unknown as WorkflowDefinition, b.definition as unknown as WorkflowDefinition);
  }

  /**
   * Moves the open tasks of one version to another. Allowed only when every open task's state exists in the
   * target. A dry run reports and changes nothing; an applied migration writes a `migrate-version` event on each task.
   */
  async migrate(principal: Principal, key: string, fromVersion: number, toVersion: number, dryRun: boolean): Promise<MigrationReport> {
    const target = await this.version(key, toVersion);
    await this.version(key, fromVersion);
    return this.ds.transaction(async (em) => {
      const rows = (await em.query(
        'SELECT state, COUNT(*) AS n FROM tasks WHERE workflow_key = ? AND workflow_version = ? AND is_open = 1 GROUP BY state',
        [key, fromVersion],
      )) as { state: string; n: number }[];
      const byState = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
      const check = canMigrate(target.definition as unknown as WorkflowDefinition, Object.keys(byState));
      const report: MigrationReport = {
        key,
        fromVersion,
        toVersion,
        openTasks: rows.reduce((s, r) => s + Number(r.n), 0),
        byState,
        missingStates: check.missingStates,
        ok: check.ok,
        applied: false,
        migratedTasks: 0,
      };
      if (dryRun) return report;
      if (!check.ok) {
        throw new DomainError(WorkflowErrorCode.MIGRATION_NOT_POSSIBLE, 'Open tasks are in states the target version lacks', report);
      }
      const tasks = await em.getRepository(TaskEntity).find({
        where: { workflowKey: key, workflowVersion: fromVersion, isOpen: true },
        lock: { mode: 'pessimistic_write' },
        order: { id: 'ASC' },
      });
      const now = new Date();
      for (const task of tasks) {
        await appendEvent(
          em,
          {
            taskId: task.id,
            action: 'migrate-version',
            fromState: task.state,
            toState: task.state,
            actorUserId: principal.userId,
            actorOrgUnitId: principal.orgUnitId,
            payload: { workflowKey: key, fromVersion, toVersion },
            at: now,
          },
          task,
        );
        await em.getRepository(TaskEntity).update(
          { id: task.id },
          { workflowVersion: toVersion, version: task.version + 1, lastEventSeq: task.lastEventSeq, lastEventHash: task.lastEventHash },
        );
      }
      return { ...report, applied: true, migratedTasks: tasks.length };
    });
  }
}

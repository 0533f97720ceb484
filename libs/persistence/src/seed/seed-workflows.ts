import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { definitionHash, validateDefinition, type WorkflowDefinition } from '@gridflow/engine';
import { WorkflowEntity, WorkflowVersionEntity } from '../entities/workflow.entity.js';
import type { JsonObject } from '../entities/transformers.js';

/**
 * Loads the shipped workflow definitions (config/workflows/*.json): a workflow that does not exist yet is created
 * and its definition published as version 1. Existing workflows are left alone, so edits made by administrators
 * survive a re-seed.
 */
export async function seedWorkflows(ds: DataSource, configDir: string, log?: (m: string) => void): Promise<number> {
  const dir = join(configDir, 'workflows');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  let created = 0;
  for (const file of files) {
    const definition = JSON.parse(await readFile(join(dir, file), 'utf8')) as WorkflowDefinition & JsonObject;
    const { valid, errors } = validateDefinition(definition);
    if (!valid) throw new Error(`config/workflows/${file} is invalid: ${JSON.stringify(errors)}`);
    await ds.transaction(async (em) => {
      const repo = em.getRepository(WorkflowEntity);
      if (await repo.existsBy({ key: definition.key })) return;
      await repo.insert({ key: definition.key, name: definition.name, draft: definition, draftUpdatedBy: null, latestVersion: 1 });
      await em.getRepository(WorkflowVersionEntity).insert({
        key: definition.key,
        version: 1,
        definition,
        hash: definitionHash(definition),
        publishedAt: new Date(),
        publishedBy: null,
        deprecated: false,
      });
      created++;
    });
  }
  log?.(`seed: ${created} workflows published`);
  return created;
}

import type { EntityManager, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Entities read by hand-written SQL on the hot paths (an action's task read, a task's detail with its escrow and
 * grants in one statement). TypeORM's query builder costs more CPU per statement than the statement itself on a
 * one-row read; here the select list is built once per entity and alias, and each value is hydrated exactly as
 * TypeORM would (its driver's `prepareHydratedValue`: booleans, dates, column transformers).
 */
const selectLists = new WeakMap<EntityMetadata, Map<string, string>>();


/** `alias`.`column` AS `alias__column`, … for every column of the entity. */
export function selectList(em: EntityManager, target: EntityTarget<ObjectLiteral>, alias: string): string {
  const metadata = em.connection.getMetadata(target);
  let byAlias = selectLists.get(metadata);
  if (!byAlias) selectLists.set(metadata, (byAlias = new Map()));
  let list = byAlias.get(alias);
  if (list === undefined) {
    list = metadata.columns.map((c) => `\`${alias}\`.\`${c.databaseName}\` AS \`${alias}__${c.databaseName}\``).join(', ');
    byAlias.set(alias, list);
  }
  return list;
}

/** The entity in `row` under `alias` (as `selectList` named its columns), or null when its primary key is NULL. */
export function hydrate<T extends ObjectLiteral>(
  em: EntityManager,
  target: EntityTarget<T>,
  row: Record<string, unknown>,
  alias: string,
): T | null {
  const metadata = em.connection.getMetadata(target);
  const driver = metadata.connection.driver;
  if (metadata.primaryColumns.some((c) => row[`${alias}__${c.databaseName}`] == null)) return null;
  const entity = metadata.create() as T;
  for (const c of metadata.columns) {
    c.setEntityValue(entity, driver.prepareHydratedValue(row[`${alias}__${c.databaseName}`], c));
  }
  return entity;
}

import type { EntityManager, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Entities read and written by hand-written SQL on the hot paths (an action's task read, a task's detail with its escrow and
 * grants in one statement). TypeORM's query builder costs more CPU per statement than the statement itself on a
 * one-row read; here the select list is built once per entity and alias, and each value is hydrated exactly as
 * TypeORM would (its driver's `prepareHydratedValue`: booleans, dates, column transformers).
 */
type Column = EntityMetadata['columns'][number];

/**
 * An entity's columns under an alias, worked out once: the select list (`alias`.`column` AS `alias__column`, …), each
 * column's key in a row read with it, and the property to assign it to directly (null: a column in an embedded, or a
 * virtual one, is set through TypeORM's `setEntityValue`).
 */
interface AliasedColumns {
  selectList: string;
  primaryKeys: string[];
  columns: { key: string; column: Column; property: string | null }[];
}
const aliased = new WeakMap<EntityMetadata, Map<string, AliasedColumns>>();

function aliasedColumns(metadata: EntityMetadata, alias: string): AliasedColumns {
  let byAlias = aliased.get(metadata);
  if (!byAlias) aliased.set(metadata, (byAlias = new Map()));
  let entry = byAlias.get(alias);
  if (entry === undefined) {
    entry = {
      selectList: metadata.columns.map((c) => `\`${alias}\`.\`${c.databaseName}\` AS \`${alias}__${c.databaseName}\``).join(', '),
      primaryKeys: metadata.primaryColumns.map((c) => `${alias}__${c.databaseName}`),
      columns: metadata.columns.map((c) => ({
        key: `${alias}__${c.databaseName}`,
        column: c,
        property: c.embeddedMetadata || c.isVirtual ? null : c.propertyName,
      })),
    };
    byAlias.set(alias, entry);
  }
  return entry;
}

/** `alias`.`column` AS `alias__column`, … for every column of the entity. */
export function selectList(em: EntityManager, target: EntityTarget<ObjectLiteral>, alias: string): string {
  return aliasedColumns(em.connection.getMetadata(target), alias).selectList;
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
  const plan = aliasedColumns(metadata, alias);
  for (const key of plan.primaryKeys) if (row[key] == null) return null;
  const entity = metadata.create() as T;
  for (const { key, column, property } of plan.columns) {
    const value: unknown = driver.prepareHydratedValue(row[key], column);
    if (property === null) column.setEntityValue(entity, value);
    else (entity as Record<string, unknown>)[property] = value;
  }
  return entity;
}

/** A value as TypeORM would write it to the column (its transformer, then the driver's conversion). */
const persistent = (em: EntityManager, column: Column, value: unknown): unknown =>
  em.connection.driver.preparePersistentValue(value, column);

/**
 * `INSERT INTO <table> (…) VALUES (…), …` of entities, without the query builder: the columns any row sets, and
 * DEFAULT where a row leaves one unset, as TypeORM's insert does (which also sets unset creation and update times). Returns the driver's result (`insertId` of the
 * first row).
 */
export async function insertRows<T extends ObjectLiteral>(
  em: EntityManager,
  target: EntityTarget<T>,
  rows: readonly Partial<T>[],
): Promise<{ insertId?: number | string }> {
  if (!rows.length) return {};
  const metadata = em.connection.getMetadata(target);
  // like TypeORM: unset creation and update times are set here, on the entities too, so they read as written
  const at = new Date();
  for (const c of metadata.columns) {
    if (!c.isCreateDate && !c.isUpdateDate) continue;
    for (const r of rows) if (c.getEntityValue(r) === undefined) c.setEntityValue(r as ObjectLiteral, at);
  }
  const columns = metadata.columns.filter((c) => rows.some((r) => c.getEntityValue(r) !== undefined));
  const params: unknown[] = [];
  const tuples = rows.map((r) => {
    const cells = columns.map((c) => {
      const v = c.getEntityValue(r);
      if (v === undefined) return 'DEFAULT';
      params.push(persistent(em, c, v));
      return '?';
    });
    return `(${cells.join(', ')})`;
  });
  return (await em.query(
    `INSERT INTO \`${metadata.tableName}\` (${columns.map((c) => `\`${c.databaseName}\``).join(', ')}) VALUES ${tuples.join(', ')}`,
    params,
  )) as { insertId?: number | string };
}

/** `UPDATE <table> SET … WHERE <primary key> = ?` of the properties `patch` sets, without the query builder. */
export async function updateById<T extends ObjectLiteral>(
  em: EntityManager,
  target: EntityTarget<T>,
  id: string,
  patch: Partial<T>,
): Promise<void> {
  const metadata = em.connection.getMetadata(target);
  const [primary] = metadata.primaryColumns;
  const columns = metadata.columns.filter((c) => c.getEntityValue(patch) !== undefined);
  if (!columns.length) return;
  await em.query(
    `UPDATE \`${metadata.tableName}\` SET ${columns.map((c) => `\`${c.databaseName}\` = ?`).join(', ')} WHERE \`${primary.databaseName}\` = ?`,
    [...columns.map((c) => persistent(em, c, c.getEntityValue(patch))), id],
  );
}

import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { createDataSource, DatabaseSettings, splitDatabaseUrl } from './data-source.js';

const LOCK = 'gridflow_migrations';

/** Creates the database when missing (utf8mb4). */
export async function ensureDatabase(url: string): Promise<void> {
  const { serverUrl, database } = splitDatabaseUrl(url);
  const conn = await createConnection({ uri: serverUrl, connectTimeout: 5000 });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}

/**
 * Runs pending migrations under a MySQL named lock, so two processes starting together cannot race:
 * the second waits, then finds nothing to do.
 */
export async function migrate(settings: DatabaseSettings, log: (msg: string) => void = () => {}): Promise<string[]> {
  await ensureDatabase(settings.url);
  const ds = createDataSource({ ...settings, poolSize: 2 });
  await ds.initialize();
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    const [row] = (await runner.query('SELECT GET_LOCK(?, 120) AS got', [LOCK])) as { got: number }[];
    if (Number(row?.got) !== 1) throw new Error('Timed out waiting for the migration lock');
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      for (const m of applied) log(`applied migration ${m.name}`);
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT RELEASE_LOCK(?)', [LOCK]);
    }
  } finally {
    await runner.release();
    await ds.destroy();
  }
}

/** SQL the entities would need beyond what the migrations built: empty when they agree. */
export async function schemaDrift(ds: DataSource): Promise<string[]> {
  const sql = await ds.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

import { createDataSource, migrate } from '../index.js';

/**
 * Development helper for writing the next migration: migrates a scratch database, then prints the SQL that would
 * bring it in line with the entities. `node dist/libs/persistence/src/cli/schema-log.js [scratch database url]`
 */
const url = process.argv[2] ?? 'mariadb://root@127.0.0.1:3306/gridflow_schema_scratch';
await migrate({ url });
const ds = createDataSource({ url });
await ds.initialize();
const sql = await ds.driver.createSchemaBuilder().log();
for (const q of sql.upQueries) console.log(q.query + ';');
console.log('-- down');
for (const q of sql.downQueries.reverse()) console.log(q.query + ';');
await ds.destroy();

import { createDataSource, ensureDatabase } from '../index.js';

/** Development helper: prints the SQL that would bring the database in line with the entities (for new migrations). */
const url = process.argv[2] ?? 'mysql://root@127.0.0.1:3306/gridflow_schema_scratch';
await ensureDatabase(url);
const ds = createDataSource({ url });
await ds.initialize();
const sql = await ds.driver.createSchemaBuilder().log();
for (const q of sql.upQueries) console.log(q.query + ';');
console.log('-- down');
for (const q of sql.downQueries.reverse()) console.log(q.query + ';');
await ds.destroy();

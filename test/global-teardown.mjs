// Drops this run's database unless KEEP_TEST_DB is set (to inspect it after a failure).
import { createConnection } from 'mysql2/promise';

export default async function globalTeardown() {
  const url = process.env.DATABASE_URL;
  if (!url || process.env.KEEP_TEST_DB) return;
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.slice(1));
  if (!/^gridflow_test_[A-Za-z0-9_]+$/.test(database)) return;
  u.pathname = '/';
  const conn = await createConnection({ uri: u.toString() });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

// Drops this run's database and deletes this run's Redis keys, unless KEEP_TEST_DB is set (to inspect them after a
// failure).
import { createConnection } from 'mysql2/promise';
import { Redis } from 'ioredis';

async function dropDatabase(url) {
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

/** The keys of this run's prefix (`gftest-…`, set by global-setup): BullMQ queues, markers, rate limits. */
async function deleteRedisKeys(redisUrl, prefix) {
  if (!/^gftest-[A-Za-z0-9-]+$/.test(prefix)) return;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export default async function globalTeardown() {
  if (process.env.KEEP_TEST_DB) return;
  if (process.env.DATABASE_URL) await dropDatabase(process.env.DATABASE_URL);
  if (process.env.REDIS_PREFIX)
    await deleteRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', process.env.REDIS_PREFIX);
}

// Integration and e2e suites run against real MariaDB and Redis. Each run gets its own database and Redis key
// prefix (scripts/test chooses them; a bare jest run gets fresh ones here), migrated once and seeded with the demo
// district through the same command-line tools scripts/start uses. Test data beyond the seed is built per test by
// factories, so tests need no order. Runs outside jest's module system, hence plain JavaScript over the build.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export default async function globalSetup() {
  const run = `${Date.now().toString(36)}_${process.pid}`;
  process.env.NODE_ENV = 'test';
  process.env.DATABASE_URL ??= `mariadb://root@127.0.0.1:3306/gridflow_test_${run}`;
  process.env.REDIS_PREFIX ??= `gftest-${run.replace('_', '-')}`;
  process.env.JWT_SECRET ??= randomBytes(32).toString('base64url');
  process.env.PASSWORD_SCRYPT_LOG2N ??= '12';
  process.env.LOGIN_MAX_FAILURES ??= '5';
  process.env.LOG_LEVEL ??= 'warn';
  process.env.DEMO_PASSWORD ??= 'Gridflow@2026';
  // the suites' webhook receivers listen on 127.0.0.1; test/e2e/webhooks.e2e-spec.ts turns this off to prove refusals
  process.env.WEBHOOK_ALLOW_PRIVATE_NETWORKS ??= 'true';
  process.env.WEBHOOK_SECRET_KEY ??= 'Z3JpZGZsb3ctdGVzdC13ZWJob29rLXNlY3JldC1rZXk'; // a fixed test key (32 bytes)
  if (process.env.GRIDFLOW_TEST_PREPARED === process.env.DATABASE_URL) return;

  if (!existsSync('dist/libs/persistence/src/cli/migrate.js') || !process.env.GRIDFLOW_TEST_BUILT) {
    execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  }
  const env = { ...process.env };
  execFileSync('node', ['dist/libs/persistence/src/cli/migrate.js'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('node', ['dist/libs/persistence/src/cli/seed.js'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  process.env.GRIDFLOW_TEST_PREPARED = process.env.DATABASE_URL;
}

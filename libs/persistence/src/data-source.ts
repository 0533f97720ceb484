import { DataSource, DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';
import { cachePromiseWrappers } from './mysql2-promise-wrappers.js';

export interface DatabaseSettings {
  url: string;
  poolSize?: number;
}

/** The one place that turns settings into TypeORM options. `synchronize` is never on: migrations own the schema. */
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  cachePromiseWrappers();
  return {
    type: new URL(settings.url).protocol === 'mariadb:' ? 'mariadb' : 'mysql',
    url: settings.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    bigNumberStrings: false,
    poolSize: settings.poolSize ?? 10,
    connectTimeout: 5000,
    // trace: false — mysql2 would capture a stack trace for every query, a noticeable share of its CPU per query
    extra: { connectionLimit: settings.poolSize ?? 10, waitForConnections: true, queueLimit: 0, enableKeepAlive: true, trace: false },
  };
}

export function createDataSource(settings: DatabaseSettings): DataSource {
  return new DataSource(dataSourceOptions(settings));
}

/** Splits a database URL into the server URL and the database name (to create the database first). */
export function splitDatabaseUrl(url: string): { serverUrl: string; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`DATABASE_URL names an invalid database "${database}"`);
  u.pathname = '/';
  return { serverUrl: u.toString(), database };
}

export * from './entities/index.js';
export * from './data-source.js';
export * from './migrate.js';
export * from './migrations/index.js';
export * from './seed/seed.js';
export * from './database.module.js';
export * from './seed/seed-workflows.js';
export * from './raw-rows.js';

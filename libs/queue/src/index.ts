export * from './queues.js';
export * from './job-options.js';
export * from './redis.js';
export * from './redis.module.js';
export * from './queue.module.js';
export * from './held-jobs.js';

export * from './org/org-directory.service.js';
export * from './org/org.module.js';

import { Foundation1763900000000 } from './1763900000000-foundation.js';

/** Every migration, in order. New migrations are appended; applied ones are never edited. */
export const MIGRATIONS = [Foundation1763900000000];

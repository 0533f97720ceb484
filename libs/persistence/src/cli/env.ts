import { existsSync } from 'node:fs';
import { validateEnv, type Env } from '@gridflow/common';

/** Command-line tools read the same validated configuration as the apps (.env first, then the environment). */
export function cliEnv(): Env {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return validateEnv(process.env);
}

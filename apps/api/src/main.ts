import 'reflect-metadata';
import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { envValue } from '@gridflow/common';
import { serveApi, superviseApiProcesses } from './api-processes.js';

/** API_WORKERS from the environment, else from .env (where the API's configuration also reads it, as dotenv). */
function apiWorkers(): number {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')).API_WORKERS : undefined;
  return envValue('API_WORKERS', process.env.API_WORKERS ?? fromFile);
}

// with API_WORKERS > 1 this process only runs that many API processes, which share the port
const processes = cluster.isPrimary ? apiWorkers() : 1;
if (processes > 1) superviseApiProcesses(processes);
else await serveApi();

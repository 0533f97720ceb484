import { migrate } from '../migrate.js';
import { cliEnv } from './env.js';

const env = cliEnv();
const applied = await migrate({ url: env.DATABASE_URL }, (m) => console.log(m));
console.log(applied.length ? `migrations: ${applied.length} applied` : 'migrations: database is up to date');

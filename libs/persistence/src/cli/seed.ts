import { resolve } from 'node:path';
import { createDataSource } from '../data-source.js';
import { seedDemoDistrict } from '../seed/seed.js';
import { seedWorkflows } from '../seed/seed-workflows.js';
import { cliEnv } from './env.js';

const env = cliEnv();
const ds = createDataSource({ url: env.DATABASE_URL, poolSize: 2 });
await ds.initialize();
try {
  const configDir = resolve(process.cwd(), 'config');
  await seedWorkflows(ds, configDir, (m) => console.log(m));
  await seedDemoDistrict(ds, {
    configDir,
    demoPassword: env.DEMO_PASSWORD,
    passwordLog2N: env.PASSWORD_SCRYPT_LOG2N,
    log: (m) => console.log(m),
  });
} finally {
  await ds.destroy();
}

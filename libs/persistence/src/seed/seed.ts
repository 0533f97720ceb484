import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource, EntityManager, In } from 'typeorm';
import { hashPassword, newId } from '@gridflow/common';
import { ORG_UNIT_KINDS, OrgUnitEntity, OrgUnitKind } from '../entities/org-unit.entity.js';
import { UserEntity } from '../entities/user.entity.js';

interface SeedUnit {
  code: string;
  name: string;
  kind: OrgUnitKind;
  parentCode: string | null;
}
interface SeedUser {
  username: string;
  displayName: string;
  orgUnitCode: string;
  roles: string[];
}

export interface SeedOptions {
  /** Folder holding `seed/*.json` and `workflows/*.json`. */
  configDir: string;
  demoPassword: string;
  passwordLog2N: number;
  log?: (msg: string) => void;
}

export interface SeedReport {
  orgUnitsCreated: number;
  usersCreated: number;
}

async function readJson<T>(dir: string, file: string): Promise<T> {
  return JSON.parse(await readFile(join(dir, file), 'utf8')) as T;
}

/** Creates the org tree; existing units (matched by code) are left as they are. */
async function seedOrgUnits(
  em: EntityManager,
  units: SeedUnit[],
): Promise<{ created: number; byCode: Map<string, OrgUnitEntity> }> {
  const repo = em.getRepository(OrgUnitEntity);
  const existing = await repo.findBy({ code: In(units.map((u) => u.code)) });
  const byCode = new Map(existing.map((u) => [u.code, u]));
  let created = 0;
  for (const u of units) {
    if (byCode.has(u.code)) continue;
    if (!ORG_UNIT_KINDS.includes(u.kind)) throw new Error(`Seed unit ${u.code} has unknown kind ${u.kind}`);
    const parent = u.parentCode ? byCode.get(u.parentCode) : undefined;
    if (u.parentCode && !parent) throw new Error(`Seed unit ${u.code} names unknown parent ${u.parentCode}`);
    const id = newId();
    const entity = repo.create({
      id,
      code: u.code,
      name: u.name,
      kind: u.kind,
      parentId: parent?.id ?? null,
      path: `${parent?.path ?? '/'}${id}/`,
      depth: (parent?.depth ?? -1) + 1,
      disabled: false,
    });
    await repo.insert(entity);
    byCode.set(u.code, entity);
    created++;
  }
  return { created, byCode };
}

/** Creates demo users that do not exist yet, all with the demo password. Existing users are not touched. */
async function seedUsers(
  em: EntityManager,
  users: SeedUser[],
  units: Map<string, OrgUnitEntity>,
  opts: SeedOptions,
): Promise<number> {
  const repo = em.getRepository(UserEntity);
  const existing = new Set((await repo.findBy({ username: In(users.map((u) => u.username)) })).map((u) => u.username));
  const missing = users.filter((u) => !existing.has(u.username));
  const hashes = await Promise.all(missing.map(() => hashPassword(opts.demoPassword, opts.passwordLog2N)));
  const rows = missing.map((u, i) => {
    const unit = units.get(u.orgUnitCode);
    if (!unit) throw new Error(`Seed user ${u.username} names unknown unit ${u.orgUnitCode}`);
    return repo.create({
      id: newId(),
      username: u.username,
      displayName: u.displayName,
      orgUnitId: unit.id,
      roles: u.roles,
      passwordHash: hashes[i],
      disabled: false,
    });
  });
  if (rows.length) await repo.insert(rows);
  return rows.length;
}

/** Seeds the demo district. Idempotent: a second run creates nothing. */
export async function seedDemoDistrict(ds: DataSource, opts: SeedOptions): Promise<SeedReport> {
  const seedDir = join(opts.configDir, 'seed');
  const { units } = await readJson<{ units: SeedUnit[] }>(seedDir, 'org-units.json');
  const { users } = await readJson<{ users: SeedUser[] }>(seedDir, 'users.json');
  return ds.transaction(async (em) => {
    const org = await seedOrgUnits(em, units);
    const usersCreated = await seedUsers(em, users, org.byCode, opts);
    opts.log?.(`seed: ${org.created} org units and ${usersCreated} users created`);
    return { orgUnitsCreated: org.created, usersCreated };
  });
}

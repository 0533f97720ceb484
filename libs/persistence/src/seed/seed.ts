import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource, EntityManager, In } from 'typeorm';
import { hashPassword, newId } from '@gridflow/common';
import { ORG_UNIT_KINDS, OrgUnitEntity, OrgUnitKind } from '../entities/org-unit.entity.js';
import { UserEntity } from '../entities/user.entity.js';
import { LedgerEntryEntity } from '../entities/ledger.entity.js';

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
interface SeedPower {
  code: string;
  name: string;
  legalBasis: string;
  holderOrgUnitCode: string;
  bearsMoney: boolean;
}
interface SeedCategory {
  code: string;
  name: string;
  ownerOrgUnitCode: string;
  requiredPowerCodes: string[];
  onCommunityAccessList: boolean;
  workflowKey: string;
}
interface SeedDutyLists {
  byKind: Record<string, string[]>;
  byUnit: Record<string, string[]>;
}
interface SeedBudget {
  orgUnitCode: string;
  amountFen: number;
  note: string;
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
  powersCreated: number;
  categoriesCreated: number;
  dutiesCreated: number;
  /** Opening appropriations posted: one per unit whose budget account did not exist yet. */
  budgetsPosted: number;
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

function unitOf(units: Map<string, OrgUnitEntity>, code: string, what: string): OrgUnitEntity {
  const unit = units.get(code);
  if (!unit) throw new Error(`${what} names unknown unit ${code}`);
  return unit;
}

const affected = (res: unknown): number => Number((res as { affectedRows?: number }).affectedRows ?? 0);

/** Inserts the powers and categories that do not exist yet (by code); existing ones keep any admin edits. */
async function seedCatalogs(
  em: EntityManager,
  powers: SeedPower[],
  categories: SeedCategory[],
  units: Map<string, OrgUnitEntity>,
): Promise<{ powersCreated: number; categoriesCreated: number }> {
  const powerCodes = new Set(powers.map((p) => p.code));
  let powersCreated = 0;
  for (const p of powers) {
    const holder = unitOf(units, p.holderOrgUnitCode, `Seed power ${p.code}`);
    const res = await em.query(
      'INSERT IGNORE INTO powers (code, name, legal_basis, holder_org_unit_id, bears_money) VALUES (?, ?, ?, ?, ?)',
      [p.code, p.name, p.legalBasis, holder.id, p.bearsMoney ? 1 : 0],
    );
    powersCreated += affected(res);
  }
  let categoriesCreated = 0;
  for (const c of categories) {
    const owner = unitOf(units, c.ownerOrgUnitCode, `Seed category ${c.code}`);
    const unknown = c.requiredPowerCodes.filter((code) => !powerCodes.has(code));
    if (unknown.length) throw new Error(`Seed category ${c.code} requires unknown powers ${unknown.join(', ')}`);
    const res = await em.query(
      'INSERT IGNORE INTO categories (code, name, owner_org_unit_id, required_power_codes, on_community_access_list, workflow_key) ' +
        'VALUES (?, ?, ?, ?, ?, ?)',
      [c.code, c.name, owner.id, c.requiredPowerCodes.join(','), c.onCommunityAccessList ? 1 : 0, c.workflowKey],
    );
    categoriesCreated += affected(res);
  }
  return { powersCreated, categoriesCreated };
}

/** Inserts missing duty-list rows; `byUnit` keys are unit codes, stored as unit ids. Nothing is removed. */
async function seedDuties(
  em: EntityManager,
  duties: SeedDutyLists,
  categoryCodes: Set<string>,
  units: Map<string, OrgUnitEntity>,
): Promise<number> {
  const rows: [string, string, string][] = [];
  for (const [kind, codes] of Object.entries(duties.byKind)) {
    if (!ORG_UNIT_KINDS.includes(kind as OrgUnitKind)) throw new Error(`Seed duty list names unknown kind ${kind}`);
    for (const code of codes) rows.push(['kind', kind, code]);
  }
  for (const [unitCode, codes] of Object.entries(duties.byUnit)) {
    const unit = unitOf(units, unitCode, 'Seed duty list');
    for (const code of codes) rows.push(['unit', unit.id, code]);
  }
  const unknown = rows.filter((r) => !categoryCodes.has(r[2])).map((r) => r[2]);
  if (unknown.length) throw new Error(`Seed duty lists name unknown categories ${[...new Set(unknown)].join(', ')}`);
  if (!rows.length) return 0;
  const res = await em.query(
    `INSERT IGNORE INTO duties (scope, scope_value, category_code) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`,
    rows.flat(),
  );
  return affected(res);
}

/** Ledger account ids, as LedgerService (libs/domain) names them; the domain depends on this lib, not the reverse. */
const EXTERNAL_APPROPRIATION = 'external-appropriation';
const orgAccountId = (unitId: string) => `org-${unitId}`;

/**
 * Posts each opening appropriation once: only when the unit's budget account does not exist yet (it is created
 * here, which makes a second run, or a concurrent one, skip it). Each posting moves the amount from the external
 * appropriation account, so the sum over all accounts stays zero.
 */
async function seedBudgets(
  em: EntityManager,
  budgets: SeedBudget[],
  units: Map<string, OrgUnitEntity>,
): Promise<number> {
  const plan = budgets.map((b) => {
    const unit = unitOf(units, b.orgUnitCode, 'Seed budget');
    if (!Number.isSafeInteger(b.amountFen) || b.amountFen <= 0) {
      throw new Error(`Seed budget of ${b.orgUnitCode} must be a positive integer number of fen`);
    }
    return { ...b, account: orgAccountId(unit.id), unitId: unit.id };
  });
  if (!plan.length) return 0;
  // Lock order as LedgerService takes it: ascending account id ('external-…' sorts before 'org-…').
  await em.query(
    'INSERT INTO accounts (id, kind, org_unit_id, task_id, balance_fen, may_go_negative) ' +
      "VALUES (?, 'external', NULL, NULL, 0, 1) ON DUPLICATE KEY UPDATE id = id",
    [EXTERNAL_APPROPRIATION],
  );
  let posted = 0;
  for (const b of [...plan].sort((x, y) => (x.account < y.account ? -1 : 1))) {
    const created = await em.query(
      'INSERT IGNORE INTO accounts (id, kind, org_unit_id, task_id, balance_fen, may_go_negative) ' +
        "VALUES (?, 'budget', ?, NULL, ?, 0)",
      [b.account, b.unitId, b.amountFen],
    );
    if (affected(created) === 0) continue;
    await em.query('UPDATE accounts SET balance_fen = balance_fen - ? WHERE id = ?', [
      b.amountFen,
      EXTERNAL_APPROPRIATION,
    ]);
    await em.getRepository(LedgerEntryEntity).insert({
      debitAccount: b.account,
      creditAccount: EXTERNAL_APPROPRIATION,
      amountFen: b.amountFen,
      kind: 'appropriation',
      taskId: null,
      actorUserId: null,
      payee: null,
      note: b.note,
    });
    posted++;
  }
  return posted;
}

/** Seeds the demo district. Idempotent: a second run creates nothing. */
export async function seedDemoDistrict(ds: DataSource, opts: SeedOptions): Promise<SeedReport> {
  const seedDir = join(opts.configDir, 'seed');
  const { units } = await readJson<{ units: SeedUnit[] }>(seedDir, 'org-units.json');
  const { users } = await readJson<{ users: SeedUser[] }>(seedDir, 'users.json');
  const { powers } = await readJson<{ powers: SeedPower[] }>(seedDir, 'powers.json');
  const { categories } = await readJson<{ categories: SeedCategory[] }>(seedDir, 'categories.json');
  const duties = await readJson<SeedDutyLists>(seedDir, 'duty-lists.json');
  const { budgets } = await readJson<{ budgets: SeedBudget[] }>(seedDir, 'budgets.json');
  return ds.transaction(async (em) => {
    const org = await seedOrgUnits(em, units);
    const usersCreated = await seedUsers(em, users, org.byCode, opts);
    const catalogs = await seedCatalogs(em, powers, categories, org.byCode);
    const dutiesCreated = await seedDuties(em, duties, new Set(categories.map((c) => c.code)), org.byCode);
    const budgetsPosted = await seedBudgets(em, budgets, org.byCode);
    opts.log?.(
      `seed: ${org.created} org units, ${usersCreated} users, ${catalogs.powersCreated} powers, ` +
        `${catalogs.categoriesCreated} categories, ${dutiesCreated} duties created; ${budgetsPosted} budgets posted`,
    );
    return { orgUnitsCreated: org.created, usersCreated, ...catalogs, dutiesCreated, budgetsPosted };
  });
}

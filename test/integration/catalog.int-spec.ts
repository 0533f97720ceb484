import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { DomainError } from '@gridflow/common';
import { CatalogService } from '@gridflow/domain';
import { createDataSource } from '@gridflow/persistence';

describe('catalog service (integration, real MariaDB)', () => {
  let ds: DataSource;
  let catalog: CatalogService;
  const unit = async (code: string) =>
    ((await ds.query('SELECT id, kind FROM org_units WHERE code = ?', [code])) as { id: string; kind: string }[])[0];
  const caught = async (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as DomainError,
    );

  beforeAll(async () => {
    ds = createDataSource({ url: process.env.DATABASE_URL as string, poolSize: 2 });
    await ds.initialize();
    catalog = new CatalogService(ds);
  });
  afterAll(async () => {
    await ds.destroy();
  });

  it('own duties come from the unit’s kind list or its own list, and nothing else', async () => {
    const street = await unit('xh-jd1');
    const community = await unit('xh-jd2-sq3');
    const cityOffice = await unit('xh-jd1-ks3');
    const partyOffice = await unit('xh-jd1-ks1');
    const grid = await unit('xh-jd1-sq1-wg2');
    expect(await catalog.isOwnDuty(street, 'SANITATION_GRID_CLEANING')).toBe(true);
    expect(await catalog.isOwnDuty(street, 'FIRE_HAZARD_CAMPAIGN')).toBe(false);
    expect(await catalog.isOwnDuty(community, 'ELDERLY_CARE_VISITS')).toBe(true);
    expect(await catalog.isOwnDuty(community, 'FIRE_HAZARD_CAMPAIGN')).toBe(false);
    expect(await catalog.isOwnDuty(cityOffice, 'GARBAGE_SORTING_SUPERVISION')).toBe(true);
    expect(await catalog.isOwnDuty(partyOffice, 'GARBAGE_SORTING_SUPERVISION')).toBe(false);
    expect(await catalog.isOwnDuty(grid, 'SANITATION_GRID_CLEANING')).toBe(true);
    for (const u of [street, community, cityOffice, partyOffice, grid]) {
      expect(await catalog.isOwnDuty(u, 'LANDSCAPE_RECTIFICATION')).toBe(false);
    }
  });

  it('reads categories and powers, and names what is missing', async () => {
    const ylj = await unit('xh-ylj');
    const landscape = await catalog.getCategory('LANDSCAPE_RECTIFICATION');
    expect(landscape).toEqual(
      expect.objectContaining({
        ownerOrgUnitId: ylj.id,
        requiredPowerCodes: ['CREW_COMMAND', 'PAYMENT_SETTLEMENT'],
        onCommunityAccessList: false,
      }),
    );
    expect((await catalog.getPower('PAYMENT_SETTLEMENT')).bearsMoney).toBe(true);
    expect((await catalog.powersHeldByLaw(ylj.id)).map((p) => p.code)).toEqual(
      expect.arrayContaining(['CREW_COMMAND', 'PAYMENT_SETTLEMENT']),
    );
    expect(await catalog.powersHeldByLaw((await unit('xh-jd1')).id)).toEqual([]);
    expect((await catalog.listCategories()).length).toBeGreaterThanOrEqual(10);
    const codes = (await catalog.listPowers()).map((p) => p.code);
    expect(codes).toEqual([...codes].sort());

    expect((await caught(catalog.getCategory('NO_SUCH_CATEGORY')))?.code).toBe('CATEGORY_NOT_FOUND');
    expect((await caught(catalog.getPower('NO_SUCH_POWER')))?.code).toBe('POWER_NOT_FOUND');
    const unknown = await caught(catalog.requirePowers(['CREW_COMMAND', 'NOPE_A', 'NOPE_B', 'NOPE_A']));
    expect(unknown?.code).toBe('UNKNOWN_POWER_CODES');
    expect(unknown?.details).toEqual({ codes: ['NOPE_A', 'NOPE_B'] });
    expect((await catalog.requirePowers(['PAYMENT_SETTLEMENT', 'CREW_COMMAND'])).map((p) => p.code)).toEqual([
      'PAYMENT_SETTLEMENT',
      'CREW_COMMAND',
    ]);
  });
});

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { DomainError, registerErrorStatuses } from '@gridflow/common';
import { CategoryEntity, DutyEntity, PowerEntity } from '@gridflow/persistence';

/** Error codes of the catalogs (stable, part of the public API). */
export const CatalogErrorCode = {
  CATEGORY_NOT_FOUND: 'CATEGORY_NOT_FOUND',
  POWER_NOT_FOUND: 'POWER_NOT_FOUND',
  CATEGORY_CODE_TAKEN: 'CATEGORY_CODE_TAKEN',
  POWER_CODE_TAKEN: 'POWER_CODE_TAKEN',
  UNKNOWN_POWER_CODES: 'UNKNOWN_POWER_CODES',
  UNKNOWN_CATEGORY_CODES: 'UNKNOWN_CATEGORY_CODES',
  UNKNOWN_ORG_UNITS: 'UNKNOWN_ORG_UNITS',
} as const;

registerErrorStatuses({
  CATEGORY_NOT_FOUND: 404,
  POWER_NOT_FOUND: 404,
  CATEGORY_CODE_TAKEN: 409,
  POWER_CODE_TAKEN: 409,
  UNKNOWN_POWER_CODES: 422,
  UNKNOWN_CATEGORY_CODES: 422,
  UNKNOWN_ORG_UNITS: 422,
});

/** Codes of categories and powers: upper-snake ASCII. */
export const CATALOG_CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;
/** Workflow keys: lower-kebab ASCII. */
export const WORKFLOW_KEY_PATTERN = /^[a-z][a-z0-9-]{1,63}$/;

export const DUTY_SCOPE_KIND = 'kind';
export const DUTY_SCOPE_UNIT = 'unit';

/** The duty lists as stored: categories per org unit kind and per org unit id. */
export interface DutyLists {
  byKind: Record<string, string[]>;
  byUnit: Record<string, string[]>;
}

/**
 * Reads of the catalogs: categories (事项类别), powers (权力清单) and duty lists (职责清单). Catalogs are
 * district-wide reference data, readable by every authenticated user. Every method that may run inside a caller's
 * transaction takes an optional EntityManager.
 */
@Injectable()
export class CatalogService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  private m(em?: EntityManager): EntityManager {
    return em ?? this.ds.manager;
  }

  async getCategory(code: string, em?: EntityManager): Promise<CategoryEntity> {
    const c = await this.m(em).getRepository(CategoryEntity).findOneBy({ code });
    if (!c) throw new DomainError(CatalogErrorCode.CATEGORY_NOT_FOUND, `Category ${code} not found`, { code });
    return c;
  }

  async getPower(code: string, em?: EntityManager): Promise<PowerEntity> {
    const p = await this.m(em).getRepository(PowerEntity).findOneBy({ code });
    if (!p) throw new DomainError(CatalogErrorCode.POWER_NOT_FOUND, `Power ${code} not found`, { code });
    return p;
  }

  async listCategories(em?: EntityManager): Promise<CategoryEntity[]> {
    return this.m(em)
      .getRepository(CategoryEntity)
      .find({ order: { code: 'ASC' } });
  }

  async listPowers(em?: EntityManager): Promise<PowerEntity[]> {
    return this.m(em)
      .getRepository(PowerEntity)
      .find({ order: { code: 'ASC' } });
  }

  /**
   * The powers named by `codes`, in the order given (duplicates collapsed). Throws `UNKNOWN_POWER_CODES` (422)
   * listing every code that is not in the catalog.
   */
  async requirePowers(codes: readonly string[], em?: EntityManager): Promise<PowerEntity[]> {
    const unique = [...new Set(codes)];
    if (!unique.length) return [];
    const found = await this.m(em)
      .getRepository(PowerEntity)
      .findBy({ code: In(unique) });
    const byCode = new Map(found.map((p) => [p.code, p]));
    const missing = unique.filter((c) => !byCode.has(c));
    if (missing.length) {
      throw new DomainError(CatalogErrorCode.UNKNOWN_POWER_CODES, `Unknown power codes: ${missing.join(', ')}`, {
        codes: missing,
      });
    }
    return unique.map((c) => byCode.get(c) as PowerEntity);
  }

  /** Like requirePowers, for categories: `UNKNOWN_CATEGORY_CODES` (422). */
  async requireCategories(codes: readonly string[], em?: EntityManager): Promise<CategoryEntity[]> {
    const unique = [...new Set(codes)];
    if (!unique.length) return [];
    const found = await this.m(em)
      .getRepository(CategoryEntity)
      .findBy({ code: In(unique) });
    const byCode = new Map(found.map((c) => [c.code, c]));
    const missing = unique.filter((c) => !byCode.has(c));
    if (missing.length) {
      throw new DomainError(CatalogErrorCode.UNKNOWN_CATEGORY_CODES, `Unknown category codes: ${missing.join(', ')}`, {
        codes: missing,
      });
    }
    return unique.map((c) => byCode.get(c) as CategoryEntity);
  }

  /**
   * True when the category is the unit's own statutory duty: on the duty list of its kind or of the unit itself.
   * Handing such work to the unit needs no delegated power.
   */
  async isOwnDuty(unit: { id: string; kind: string }, categoryCode: string, em?: EntityManager): Promise<boolean> {
    const n = await this.m(em)
      .getRepository(DutyEntity)
      .createQueryBuilder('d')
      .where('d.category_code = :categoryCode', { categoryCode })
      .andWhere(
        '((d.scope = :kindScope AND d.scope_value = :kind) OR (d.scope = :unitScope AND d.scope_value = :unitId))',
        { kindScope: DUTY_SCOPE_KIND, kind: unit.kind, unitScope: DUTY_SCOPE_UNIT, unitId: unit.id },
      )
      .getCount();
    return n > 0;
  }

  /** Powers the unit holds by law (it is the power's holder), ordered by code. */
  async powersHeldByLaw(unitId: string, em?: EntityManager): Promise<PowerEntity[]> {
    return this.m(em)
      .getRepository(PowerEntity)
      .find({ where: { holderOrgUnitId: unitId }, order: { code: 'ASC' } });
  }

  /** All duty lists, grouped by kind and by unit id; lists sorted by category code. */
  async dutyLists(em?: EntityManager): Promise<DutyLists> {
    const rows = await this.m(em)
      .getRepository(DutyEntity)
      .find({ order: { scope: 'ASC', scopeValue: 'ASC', categoryCode: 'ASC' } });
    const out: DutyLists = { byKind: {}, byUnit: {} };
    for (const r of rows) {
      const target = r.scope === DUTY_SCOPE_KIND ? out.byKind : out.byUnit;
      (target[r.scopeValue] ??= []).push(r.categoryCode);
    }
    return out;
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { CatalogService, DUTY_SCOPE_KIND, DUTY_SCOPE_UNIT, OrgDirectory, type DutyLists } from '@gridflow/domain';
import { DutyEntity } from '@gridflow/persistence';
import { requireOrgUnitsInScope } from './catalog-rules.js';
import type { ReplaceDutiesDto } from './dto/catalog.dto.js';

const isDeadlock = (e: unknown): boolean => (e as { code?: string }).code === 'ER_LOCK_DEADLOCK';

/**
 * Replaces every duty list at once, atomically. Every category must exist and every unit must be known. Two
 * concurrent replacements can deadlock on the table's gap locks; InnoDB then rolls one back and it is retried.
 */
@Injectable()
export class ReplaceDutiesUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
  ) {}

  async execute(principal: Principal, cmd: ReplaceDutiesDto): Promise<DutyLists> {
    const rows: DutyEntity[] = [
      ...Object.entries(cmd.byKind).flatMap(([kind, codes]) =>
        codes.map((categoryCode) => ({ scope: DUTY_SCOPE_KIND, scopeValue: kind, categoryCode })),
      ),
      ...Object.entries(cmd.byUnit).flatMap(([unitId, codes]) =>
        codes.map((categoryCode) => ({ scope: DUTY_SCOPE_UNIT, scopeValue: unitId, categoryCode })),
      ),
    ];
    await this.catalog.requireCategories(rows.map((r) => r.categoryCode));
    await requireOrgUnitsInScope(this.org, principal, Object.keys(cmd.byUnit));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ds.transaction(async (em) => {
          await em.query('DELETE FROM duties');
          for (let i = 0; i < rows.length; i += 500) {
            await em.getRepository(DutyEntity).insert(rows.slice(i, i + 500));
          }
        });
        break;
      } catch (e) {
        if (!isDeadlock(e) || attempt >= 3) throw e;
      }
    }
    return this.catalog.dutyLists();
  }
}

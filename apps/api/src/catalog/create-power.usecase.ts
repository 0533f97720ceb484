import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, type Principal } from '@gridflow/common';
import { CatalogErrorCode, CatalogService, OrgDirectory } from '@gridflow/domain';
import { PowerEntity } from '@gridflow/persistence';
import { isDuplicateKey, requireOrgUnitsInScope } from './catalog-rules.js';
import type { CreatePowerDto } from './dto/catalog.dto.js';

/** Adds a power to the catalog (权力清单), held by law by a known unit. */
@Injectable()
export class CreatePowerUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
  ) {}

  async execute(principal: Principal, cmd: CreatePowerDto): Promise<PowerEntity> {
    const repo = this.ds.getRepository(PowerEntity);
    const taken = () =>
      new DomainError(CatalogErrorCode.POWER_CODE_TAKEN, `Power code ${cmd.code} is already taken`, { code: cmd.code });
    if (await repo.existsBy({ code: cmd.code })) throw taken();
    await requireOrgUnitsInScope(this.org, principal, [cmd.holderOrgUnitId]);
    const power = repo.create({
      code: cmd.code,
      name: cmd.name,
      legalBasis: cmd.legalBasis,
      holderOrgUnitId: cmd.holderOrgUnitId,
      bearsMoney: cmd.bearsMoney,
    });
    try {
      await repo.insert(power);
    } catch (e) {
      if (isDuplicateKey(e)) throw taken();
      throw e;
    }
    return this.catalog.getPower(cmd.code);
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { CatalogService, OrgDirectory } from '@gridflow/domain';
import { PowerEntity } from '@gridflow/persistence';
import { requireOrgUnitsInScope } from './catalog-rules.js';
import type { UpdatePowerDto } from './dto/catalog.dto.js';

/** Edits a power; the code is its identity. Grants already issued keep their power code and cap. */
@Injectable()
export class UpdatePowerUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
  ) {}

  async execute(principal: Principal, code: string, cmd: UpdatePowerDto): Promise<PowerEntity> {
    await this.catalog.getPower(code);
    if (cmd.holderOrgUnitId !== undefined) await requireOrgUnitsInScope(this.org, principal, [cmd.holderOrgUnitId]);
    const patch: Partial<PowerEntity> = {};
    if (cmd.name !== undefined) patch.name = cmd.name;
    if (cmd.legalBasis !== undefined) patch.legalBasis = cmd.legalBasis;
    if (cmd.holderOrgUnitId !== undefined) patch.holderOrgUnitId = cmd.holderOrgUnitId;
    if (cmd.bearsMoney !== undefined) patch.bearsMoney = cmd.bearsMoney;
    if (Object.keys(patch).length) await this.ds.getRepository(PowerEntity).update({ code }, patch);
    return this.catalog.getPower(code);
  }
}

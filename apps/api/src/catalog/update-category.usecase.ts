import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { CatalogService, OrgDirectory } from '@gridflow/domain';
import { CategoryEntity } from '@gridflow/persistence';
import { requireOrgUnitsInScope } from './catalog-rules.js';
import type { UpdateCategoryDto } from './dto/catalog.dto.js';

/** Edits a category; the code is its identity and never changes. Running tasks keep their category code. */
@Injectable()
export class UpdateCategoryUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
  ) {}

  async execute(principal: Principal, code: string, cmd: UpdateCategoryDto): Promise<CategoryEntity> {
    await this.catalog.getCategory(code);
    if (cmd.ownerOrgUnitId !== undefined) await requireOrgUnitsInScope(this.org, principal, [cmd.ownerOrgUnitId]);
    if (cmd.requiredPowerCodes !== undefined) await this.catalog.requirePowers(cmd.requiredPowerCodes);
    const patch: Partial<CategoryEntity> = {};
    if (cmd.name !== undefined) patch.name = cmd.name;
    if (cmd.ownerOrgUnitId !== undefined) patch.ownerOrgUnitId = cmd.ownerOrgUnitId;
    if (cmd.requiredPowerCodes !== undefined) patch.requiredPowerCodes = cmd.requiredPowerCodes;
    if (cmd.onCommunityAccessList !== undefined) patch.onCommunityAccessList = cmd.onCommunityAccessList;
    if (cmd.workflowKey !== undefined) patch.workflowKey = cmd.workflowKey;
    if (Object.keys(patch).length) await this.ds.getRepository(CategoryEntity).update({ code }, patch);
    return this.catalog.getCategory(code);
  }
}

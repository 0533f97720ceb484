import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Principal } from '@gridflow/common';
import { CatalogService, OrgDirectory, WorkflowCatalog } from '@gridflow/domain';
import { CategoryEntity, type JsonObject } from '@gridflow/persistence';
import { requireOrgUnitsInScope } from './catalog-rules.js';
import type { UpdateCategoryDto } from './dto/catalog.dto.js';

/**
 * Edits a category; the code is its identity and never changes. Running tasks keep their category code; a new timer
 * policy applies to the timers their next transitions start (within seconds in every process).
 */
@Injectable()
export class UpdateCategoryUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
    private readonly workflows: WorkflowCatalog,
  ) {}

  async execute(principal: Principal, code: string, cmd: UpdateCategoryDto): Promise<CategoryEntity> {
    const current = await this.catalog.getCategory(code);
    if (cmd.ownerOrgUnitId !== undefined) await requireOrgUnitsInScope(this.org, principal, [cmd.ownerOrgUnitId]);
    if (cmd.requiredPowerCodes !== undefined) await this.catalog.requirePowers(cmd.requiredPowerCodes);
    const patch: Partial<CategoryEntity> = {};
    if (cmd.name !== undefined) patch.name = cmd.name;
    if (cmd.ownerOrgUnitId !== undefined) patch.ownerOrgUnitId = cmd.ownerOrgUnitId;
    if (cmd.requiredPowerCodes !== undefined) patch.requiredPowerCodes = cmd.requiredPowerCodes;
    if (cmd.onCommunityAccessList !== undefined) patch.onCommunityAccessList = cmd.onCommunityAccessList;
    if (cmd.workflowKey !== undefined) patch.workflowKey = cmd.workflowKey;
    if (cmd.timerPolicy !== undefined) patch.timerPolicy = cmd.timerPolicy as JsonObject | null;
    // a policy must fit the workflow the category runs on, whichever of the two changes
    if (cmd.timerPolicy !== undefined || cmd.workflowKey !== undefined) {
      await this.workflows.checkTimerPolicy(patch.workflowKey ?? current.workflowKey, patch.timerPolicy !== undefined ? patch.timerPolicy : current.timerPolicy);
    }
    if (Object.keys(patch).length) await this.ds.getRepository(CategoryEntity).update({ code }, patch);
    this.workflows.forgetPolicy(code);
    return this.catalog.getCategory(code);
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, type Principal } from '@gridflow/common';
import { CatalogErrorCode, CatalogService, OrgDirectory, WorkflowCatalog } from '@gridflow/domain';
import { CategoryEntity, type JsonObject } from '@gridflow/persistence';
import { isDuplicateKey, requireOrgUnitsInScope } from './catalog-rules.js';
import type { CreateCategoryDto } from './dto/catalog.dto.js';

/** Adds a category to the catalog. Its owner must be a known unit and every required power must exist. */
@Injectable()
export class CreateCategoryUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly catalog: CatalogService,
    private readonly workflows: WorkflowCatalog,
  ) {}

  async execute(principal: Principal, cmd: CreateCategoryDto): Promise<CategoryEntity> {
    const repo = this.ds.getRepository(CategoryEntity);
    const taken = () =>
      new DomainError(CatalogErrorCode.CATEGORY_CODE_TAKEN, `Category code ${cmd.code} is already taken`, {
        code: cmd.code,
      });
    if (await repo.existsBy({ code: cmd.code })) throw taken();
    await requireOrgUnitsInScope(this.org, principal, [cmd.ownerOrgUnitId]);
    await this.catalog.requirePowers(cmd.requiredPowerCodes);
    if (cmd.timerPolicy) await this.workflows.checkTimerPolicy(cmd.workflowKey, cmd.timerPolicy);
    const category = repo.create({
      code: cmd.code,
      name: cmd.name,
      ownerOrgUnitId: cmd.ownerOrgUnitId,
      requiredPowerCodes: cmd.requiredPowerCodes,
      onCommunityAccessList: cmd.onCommunityAccessList,
      workflowKey: cmd.workflowKey,
      timerPolicy: (cmd.timerPolicy as JsonObject | null | undefined) ?? null,
    });
    try {
      await repo.insert(category);
    } catch (e) {
      if (isDuplicateKey(e)) throw taken();
      throw e;
    }
    return this.catalog.getCategory(cmd.code);
  }
}

import { Module } from '@nestjs/common';
import { CatalogDomainModule, OrgDomainModule, WorkflowDomainModule } from '@gridflow/domain';
import { CatalogController } from './catalog.controller.js';
import { CreateCategoryUseCase } from './create-category.usecase.js';
import { CreatePowerUseCase } from './create-power.usecase.js';
import { ReplaceDutiesUseCase } from './replace-duties.usecase.js';
import { UpdateCategoryUseCase } from './update-category.usecase.js';
import { UpdatePowerUseCase } from './update-power.usecase.js';

@Module({
  imports: [OrgDomainModule, CatalogDomainModule, WorkflowDomainModule],
  controllers: [CatalogController],
  providers: [
    CreateCategoryUseCase,
    UpdateCategoryUseCase,
    CreatePowerUseCase,
    UpdatePowerUseCase,
    ReplaceDutiesUseCase,
  ],
})
export class CatalogModule {}

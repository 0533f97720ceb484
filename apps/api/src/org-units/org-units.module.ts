import { Module } from '@nestjs/common';
import { OrgDomainModule } from '@gridflow/domain';
import { AuthModule } from '../auth/auth.module.js';
import { CreateOrgUnitUseCase } from './create-org-unit.usecase.js';
import { OrgUnitsController } from './org-units.controller.js';
import { UpdateOrgUnitUseCase } from './update-org-unit.usecase.js';

@Module({
  imports: [OrgDomainModule, AuthModule],
  controllers: [OrgUnitsController],
  providers: [CreateOrgUnitUseCase, UpdateOrgUnitUseCase],
})
export class OrgUnitsModule {}

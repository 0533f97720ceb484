import { Module } from '@nestjs/common';
import { LedgerDomainModule } from '@gridflow/domain';
import { BudgetsController } from './budgets.controller.js';

@Module({ imports: [LedgerDomainModule], controllers: [BudgetsController] })
export class BudgetsModule {}

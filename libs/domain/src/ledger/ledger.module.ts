import { Module } from '@nestjs/common';
import { OrgDomainModule } from '../org/org.module.js';
import { LedgerService } from './ledger.service.js';

@Module({ imports: [OrgDomainModule], providers: [LedgerService], exports: [LedgerService] })
export class LedgerDomainModule {}

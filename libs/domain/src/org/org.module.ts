import { Module } from '@nestjs/common';
import { OrgDirectory } from './org-directory.service.js';

@Module({ providers: [OrgDirectory], exports: [OrgDirectory] })
export class OrgDomainModule {}

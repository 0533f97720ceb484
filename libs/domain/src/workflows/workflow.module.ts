import { Module } from '@nestjs/common';
import { WorkflowAdmin } from './workflow-admin.service.js';
import { WorkflowCatalog } from './workflow-catalog.service.js';

@Module({ providers: [WorkflowCatalog, WorkflowAdmin], exports: [WorkflowCatalog, WorkflowAdmin] })
export class WorkflowDomainModule {}

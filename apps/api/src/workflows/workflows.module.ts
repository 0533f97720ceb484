import { Module } from '@nestjs/common';
import { WorkflowDomainModule } from '@gridflow/domain';
import { WorkflowsController } from './workflows.controller.js';

@Module({ imports: [WorkflowDomainModule], controllers: [WorkflowsController] })
export class WorkflowsModule {}

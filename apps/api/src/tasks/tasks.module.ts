import { Module } from '@nestjs/common';
import { TaskDomainModule } from '@gridflow/domain';
import { TasksController } from './tasks.controller.js';

@Module({ imports: [TaskDomainModule], controllers: [TasksController] })
export class TasksModule {}

import { Module } from '@nestjs/common';
import { TaskDomainModule } from '@gridflow/domain';
import { TaskTimersController } from './task-timers.controller.js';
import { TasksController } from './tasks.controller.js';

@Module({ imports: [TaskDomainModule], controllers: [TasksController, TaskTimersController] })
export class TasksModule {}

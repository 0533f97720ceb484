import { Module } from '@nestjs/common';
import { OrgDomainModule } from '@gridflow/domain';
import { AuthModule } from '../auth/auth.module.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Module({ imports: [OrgDomainModule, AuthModule], controllers: [UsersController], providers: [UsersService] })
export class UsersModule {}

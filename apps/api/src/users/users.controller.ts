import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Auth, Authenticated, hasRole, Permission, type Principal } from '@gridflow/common';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { CreateUserDto, ListUsersQuery, UpdateUserDto } from './dto/user.dto.js';
import { UserView } from './user.view.js';
import { UsersService } from './users.service.js';

const isId = (v: unknown): v is string => typeof v === 'string' && v.length === 36;

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @Authenticated({ permission: Permission.UserRead })
  @ApiOkResponse({ description: 'Users of the caller’s subtree, `{items, nextCursor}`' })
  async list(@Auth() principal: Principal, @Query() q: ListUsersQuery): Promise<Page<UserView>> {
    const page = await this.users.list(principal, {
      orgUnitId: q.orgUnitId,
      limit: q.limit,
      after: decodeCursor(q.cursor, isId),
    });
    return {
      items: page.items.map((u) => UserView.of(u, hasRole(principal, 'admin'))),
      nextCursor: page.nextId ? encodeCursor(page.nextId) : null,
    };
  }

  @Get(':id')
  @Authenticated({ permission: Permission.UserRead })
  @ApiOkResponse({ type: UserView })
  async get(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<UserView> {
    return UserView.of(await this.users.getInScope(principal, id), hasRole(principal, 'admin'));
  }

  @Post()
  @Authenticated({ permission: Permission.UserWrite })
  @ApiCreatedResponse({ type: UserView })
  async create(@Auth() principal: Principal, @Body() dto: CreateUserDto): Promise<UserView> {
    return UserView.of(await this.users.create(principal, dto), hasRole(principal, 'admin'));
  }

  @Patch(':id')
  @Authenticated({ permission: Permission.UserWrite })
  @ApiOkResponse({ type: UserView })
  async update(
    @Auth() principal: Principal,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() dto: UpdateUserDto,
  ): Promise<UserView> {
    return UserView.of(await this.users.update(principal, id, dto), hasRole(principal, 'admin'));
  }
}

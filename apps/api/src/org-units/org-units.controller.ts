import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Auth, Authenticated, Permission, type Principal } from '@gridflow/common';
import { OrgDirectory, toOrgUnitView } from '@gridflow/domain';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { CreateOrgUnitUseCase } from './create-org-unit.usecase.js';
import { CreateOrgUnitDto, ListOrgUnitsQuery, OrgUnitView, UpdateOrgUnitDto } from './dto/org-unit.dto.js';
import { UpdateOrgUnitUseCase } from './update-org-unit.usecase.js';

const isPath = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/');

@ApiTags('org-units')
@Controller('org-units')
export class OrgUnitsController {
  constructor(
    private readonly org: OrgDirectory,
    private readonly createUnit: CreateOrgUnitUseCase,
    private readonly updateUnit: UpdateOrgUnitUseCase,
  ) {}

  @Get()
  @Authenticated({ permission: Permission.OrgRead })
  @ApiOkResponse({ description: 'Units in the caller’s subtree, `{items, nextCursor}`' })
  async list(@Auth() principal: Principal, @Query() q: ListOrgUnitsQuery): Promise<Page<OrgUnitView>> {
    const page = await this.org.listInScope(principal, {
      parentId: q.parentId,
      kind: q.kind,
      limit: q.limit,
      cursor: decodeCursor(q.cursor, isPath),
    });
    return { items: page.items.map(toOrgUnitView), nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null };
  }

  @Get(':id')
  @Authenticated({ permission: Permission.OrgRead })
  @ApiOkResponse({ type: OrgUnitView })
  @ApiNotFoundResponse({ description: 'No such unit in the caller’s subtree' })
  async get(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<OrgUnitView> {
    return toOrgUnitView(await this.org.getInScope(principal, id));
  }

  @Post()
  @Authenticated({ permission: Permission.OrgWrite })
  @ApiCreatedResponse({ type: OrgUnitView })
  async create(@Auth() principal: Principal, @Body() dto: CreateOrgUnitDto): Promise<OrgUnitView> {
    return toOrgUnitView(await this.createUnit.execute(principal, dto));
  }

  @Patch(':id')
  @Authenticated({ permission: Permission.OrgWrite })
  @ApiOkResponse({ type: OrgUnitView })
  async update(
    @Auth() principal: Principal,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() dto: UpdateOrgUnitDto,
  ): Promise<OrgUnitView> {
    return toOrgUnitView(await this.updateUnit.execute(principal, id, dto));
  }
}

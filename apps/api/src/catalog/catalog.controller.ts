import { Body, Controller, Get, Param, Patch, Post, Put, UseInterceptors } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Auth, Authenticated, inScope, Permission, type Principal } from '@gridflow/common';
import { CatalogService, OrgDirectory, type DutyLists } from '@gridflow/domain';
import { ORG_UNIT_KINDS } from '@gridflow/persistence';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor.js';
import { CreateCategoryUseCase } from './create-category.usecase.js';
import { CreatePowerUseCase } from './create-power.usecase.js';
import {
  CategoryList,
  CategoryView,
  CreateCategoryDto,
  CreatePowerDto,
  DutyListsView,
  PowerList,
  PowerView,
  ReplaceDutiesDto,
  UpdateCategoryDto,
  UpdatePowerDto,
} from './dto/catalog.dto.js';
import { ReplaceDutiesUseCase } from './replace-duties.usecase.js';
import { UpdateCategoryUseCase } from './update-category.usecase.js';
import { UpdatePowerUseCase } from './update-power.usecase.js';

/** The catalogs: categories (事项类别), powers (权力清单) and duty lists (职责清单). Admins edit them. */
@ApiTags('catalog')
@Controller('catalog')
export class CatalogController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly org: OrgDirectory,
    private readonly createCategoryUseCase: CreateCategoryUseCase,
    private readonly updateCategoryUseCase: UpdateCategoryUseCase,
    private readonly createPowerUseCase: CreatePowerUseCase,
    private readonly updatePowerUseCase: UpdatePowerUseCase,
    private readonly replaceDutiesUseCase: ReplaceDutiesUseCase,
  ) {}

  @Get('categories')
  @Authenticated({ permission: Permission.CatalogRead })
  @ApiOkResponse({ type: CategoryList })
  async listCategories(): Promise<CategoryList> {
    return { items: (await this.catalog.listCategories()).map(CategoryView.of), nextCursor: null };
  }

  @Post('categories')
  @UseInterceptors(IdempotencyInterceptor)
  @Authenticated({ permission: Permission.CatalogWrite })
  @ApiCreatedResponse({ type: CategoryView })
  @ApiUnprocessableEntityResponse({ description: 'UNKNOWN_ORG_UNITS or UNKNOWN_POWER_CODES' })
  async createCategory(@Auth() principal: Principal, @Body() dto: CreateCategoryDto): Promise<CategoryView> {
    return CategoryView.of(await this.createCategoryUseCase.execute(principal, dto));
  }

  @Patch('categories/:code')
  @Authenticated({ permission: Permission.CatalogWrite })
  @ApiOkResponse({ type: CategoryView })
  @ApiNotFoundResponse({ description: 'CATEGORY_NOT_FOUND' })
  async updateCategory(
    @Auth() principal: Principal,
    @Param('code') code: string,
    @Body() dto: UpdateCategoryDto,
  ): Promise<CategoryView> {
    return CategoryView.of(await this.updateCategoryUseCase.execute(principal, code, dto));
  }

  @Get('powers')
  @Authenticated({ permission: Permission.CatalogRead })
  @ApiOkResponse({ type: PowerList })
  async listPowers(): Promise<PowerList> {
    return { items: (await this.catalog.listPowers()).map(PowerView.of), nextCursor: null };
  }

  @Post('powers')
  @UseInterceptors(IdempotencyInterceptor)
  @Authenticated({ permission: Permission.CatalogWrite })
  @ApiCreatedResponse({ type: PowerView })
  @ApiUnprocessableEntityResponse({ description: 'UNKNOWN_ORG_UNITS' })
  async createPower(@Auth() principal: Principal, @Body() dto: CreatePowerDto): Promise<PowerView> {
    return PowerView.of(await this.createPowerUseCase.execute(principal, dto));
  }

  @Patch('powers/:code')
  @Authenticated({ permission: Permission.CatalogWrite })
  @ApiOkResponse({ type: PowerView })
  @ApiNotFoundResponse({ description: 'POWER_NOT_FOUND' })
  async updatePower(
    @Auth() principal: Principal,
    @Param('code') code: string,
    @Body() dto: UpdatePowerDto,
  ): Promise<PowerView> {
    return PowerView.of(await this.updatePowerUseCase.execute(principal, code, dto));
  }

  @Get('duties')
  @Authenticated({ permission: Permission.CatalogRead })
  @ApiOkResponse({
    type: DutyListsView,
    description: 'Every kind is listed; `byUnit` holds units in the caller’s subtree',
  })
  async duties(@Auth() principal: Principal): Promise<DutyListsView> {
    return this.visible(principal, await this.catalog.dutyLists());
  }

  @Put('duties')
  @Authenticated({ permission: Permission.CatalogWrite })
  @ApiOkResponse({ type: DutyListsView })
  @ApiUnprocessableEntityResponse({ description: 'UNKNOWN_CATEGORY_CODES or UNKNOWN_ORG_UNITS' })
  async replaceDuties(@Auth() principal: Principal, @Body() dto: ReplaceDutiesDto): Promise<DutyListsView> {
    return this.visible(principal, await this.replaceDutiesUseCase.execute(principal, dto));
  }

  /** Lists every kind (empty when it has no duties) and only the units the caller may see. */
  private async visible(principal: Principal, lists: DutyLists): Promise<DutyListsView> {
    const byKind = Object.fromEntries(ORG_UNIT_KINDS.map((k) => [k, lists.byKind[k] ?? []]));
    const units = await this.org.findByIds(Object.keys(lists.byUnit));
    const byUnit = Object.fromEntries(
      units
        .filter((u) => inScope(principal, u.path))
        .sort((a, b) => a.path.localeCompare(b.path))
        .map((u) => [u.id, lists.byUnit[u.id]]),
    );
    return { byKind, byUnit };
  }
}

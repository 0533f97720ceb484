import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Auth, Authenticated, DomainError, Permission, type Principal } from '@gridflow/common';
import { listBuildingBlocks, WORKFLOW_DEFINITION_SCHEMA, type WorkflowDefinition } from '@gridflow/engine';
import { simulate, WorkflowAdmin, WorkflowCatalog, WorkflowErrorCode } from '@gridflow/domain';
import { DefinitionDto, DeprecateDto, DiffQuery, MigrateDto, SimulateDto, ValidateDto } from './dto/workflow.dto.js';
import { versionView, workflowView } from './workflow.views.js';

@ApiTags('workflows')
@Controller('workflows')
export class WorkflowsController {
  constructor(private readonly admin: WorkflowAdmin) {}

  @Get()
  @Authenticated({ permission: Permission.WorkflowRead })
  async list() {
    const items = await this.admin.list();
    return { items: items.map((w) => ({ key: w.key, name: w.name, latestVersion: w.latestVersion, updatedAt: w.updatedAt.toISOString() })), nextCursor: null };
  }

  @Get('schema')
  @Authenticated({ permission: Permission.WorkflowRead })
  @ApiOkResponse({ description: 'The JSON Schema of the definition language' })
  schema() {
    return WORKFLOW_DEFINITION_SCHEMA;
  }

  @Get('building-blocks')
  @Authenticated({ permission: Permission.WorkflowRead })
  blocks() {
    return { items: listBuildingBlocks(), nextCursor: null };
  }

  @Post()
  @Authenticated({ permission: Permission.WorkflowWrite })
  async create(@Auth() principal: Principal, @Body() dto: DefinitionDto) {
    const { workflow, validation } = await this.admin.create(principal, dto.definition);
    return { ...workflowView(workflow), validation };
  }

  @Get(':key')
  @Authenticated({ permission: Permission.WorkflowRead })
  async get(@Param('key') key: string) {
    return workflowView(await this.admin.get(key));
  }

  @Put(':key/draft')
  @Authenticated({ permission: Permission.WorkflowWrite })
  async saveDraft(@Auth() principal: Principal, @Param('key') key: string, @Body() dto: DefinitionDto) {
    const { workflow, validation } = await this.admin.saveDraft(principal, key, dto.definition);
    return { ...workflowView(workflow), validation };
  }

  @Post(':key/validate')
  @HttpCode(200)
  @Authenticated({ permission: Permission.WorkflowWrite })
  async validate(@Param('key') key: string, @Body() dto: ValidateDto) {
    return this.admin.validate(dto.definition ?? (await this.admin.get(key)).draft);
  }

  @Post(':key/publish')
  @Authenticated({ permission: Permission.WorkflowWrite })
  async publish(@Auth() principal: Principal, @Param('key') key: string) {
    return versionView(await this.admin.publish(principal, key));
  }

  @Get(':key/versions')
  @Authenticated({ permission: Permission.WorkflowRead })
  async versions(@Param('key') key: string) {
    return { items: (await this.admin.versions(key)).map(versionView), nextCursor: null };
  }

  @Get(':key/versions/:version')
  @Authenticated({ permission: Permission.WorkflowRead })
  async version(@Param('key') key: string, @Param('version', ParseIntPipe) version: number) {
    return versionView(await this.admin.version(key, version));
  }

  @Post(':key/versions/:version/deprecation')
  @HttpCode(200)
  @Authenticated({ permission: Permission.WorkflowWrite })
  async deprecate(@Param('key') key: string, @Param('version', ParseIntPipe) version: number, @Body() dto: DeprecateDto) {
    return versionView(await this.admin.deprecate(key, version, dto.deprecated));
  }

  @Get(':key/diff')
  @Authenticated({ permission: Permission.WorkflowRead })
  async diff(@Param('key') key: string, @Query() q: DiffQuery) {
    return { key, from: q.from, to: q.to, diff: await this.admin.diff(key, q.from, q.to) };
  }

  @Post(':key/migrations')
  @HttpCode(200)
  @Authenticated({ permission: Permission.WorkflowWrite })
  async migrate(@Auth() principal: Principal, @Param('key') key: string, @Body() dto: MigrateDto) {
    return this.admin.migrate(principal, key, dto.fromVersion, dto.toVersion, dto.dryRun);
  }

  @Post(':key/simulate')
  @HttpCode(200)
  @Authenticated({ permission: Permission.WorkflowWrite })
  async simulate(@Param('key') key: string, @Body() dto: SimulateDto) {
    const definition = dto.version
      ? ((await this.admin.version(key, dto.version)).definition as unknown as WorkflowDefinition)
      : WorkflowCatalog.parseOrThrow((await this.admin.get(key)).draft, key);
    if (!definition) throw new DomainError(WorkflowErrorCode.WORKFLOW_NOT_FOUND, `No workflow ${key}`);
    return simulate(definition, dto);
  }
}

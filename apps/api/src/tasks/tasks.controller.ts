import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { Auth, Authenticated, DomainError, ErrorCode, NotFoundError, Permission, type Principal } from '@gridflow/common';
import {
  CreateTaskUseCase,
  ExpenseUseCase,
  GrantsService,
  HandoffUseCase,
  LedgerService,
  TaskReader,
  TaskShell,
  taskVisibleTo,
  toLedgerEntryView,
} from '@gridflow/domain';
import { decodeCursor, encodeCursor } from '../common/pagination.js';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor.js';
import { CreateTaskDto, EventsQuery, ListTasksQuery } from './dto/task.dto.js';
import { ExpenseDto, HandoffsDto, LedgerQuery } from './dto/handoff.dto.js';
import { eventView, grantView, taskDetailView, taskView } from './task.views.js';

const isKeyset = (v: unknown): v is { dueAt: string; id: string } =>
  typeof v === 'object' && v !== null && typeof (v as { dueAt?: unknown }).dueAt === 'string' && typeof (v as { id?: unknown }).id === 'string';

/** `If-Match: "<version>"` (quotes optional). Absent: no version check. */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,10})"?\s*$/.exec(header);
  if (!m) throw new DomainError(ErrorCode.VALIDATION_FAILED, 'If-Match must be the task version, e.g. "3"');
  return Number(m[1]);
}

const isDigits = (v: unknown): v is string => typeof v === 'string' && /^\d{1,20}$/.test(v);

const ACTION_NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,63}$/;

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(
    private readonly createTask: CreateTaskUseCase,
    private readonly reader: TaskReader,
    private readonly shell: TaskShell,
    private readonly grants: GrantsService,
    private readonly handoff: HandoffUseCase,
    private readonly expense: ExpenseUseCase,
    private readonly ledger: LedgerService,
  ) {}

  @Post(':id/handoffs')
  @Authenticated({ permission: Permission.TaskCreate })
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  async handoffs(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() dto: HandoffsDto) {
    const children = await this.handoff.execute(
      principal,
      id,
      dto.handoffs.map((h) => ({
        assigneeOrgUnitId: h.assigneeOrgUnitId,
        title: h.title,
        dueAt: h.dueAt ? new Date(h.dueAt) : undefined,
        fundingFen: h.fundingFen,
        grants: h.grants.map((g) => ({
          powerCode: g.powerCode,
          scopeOrgUnitId: g.scopeOrgUnitId,
          capFen: g.capFen,
          validUntil: g.validUntil ? new Date(g.validUntil) : undefined,
        })),
        terms: h.terms,
        weight: h.weight,
      })),
    );
    return { items: children.map((c, i) => taskView(c, dto.handoffs[i].fundingFen)) };
  }

  @Post(':id/expenses')
  @Authenticated({ permission: Permission.ExpenseWrite })
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  async addExpense(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() dto: ExpenseDto) {
    const { entry, grant, escrowBalanceFen } = await this.expense.execute(principal, id, { amountFen: dto.amountFen, payee: dto.payee, note: dto.note });
    return { entry: toLedgerEntryView(entry), grant: grant ? grantView(grant) : null, escrowBalanceFen };
  }

  @Get(':id/ledger')
  @Authenticated({ permission: Permission.TaskRead })
  async ledgerOf(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string, @Query() q: LedgerQuery) {
    await this.shell.getVisible(principal, id);
    const page = await this.ledger.entriesForTask(id, { limit: q.limit, afterId: decodeCursor(q.cursor, isDigits) ?? null });
    return { items: page.items.map(toLedgerEntryView), nextCursor: page.nextAfterId ? encodeCursor(page.nextAfterId) : null };
  }

  @Post()
  @Authenticated({ permission: Permission.TaskCreate })
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  async create(@Auth() principal: Principal, @Body() dto: CreateTaskDto) {
    const task = await this.createTask.execute(principal, {
      title: dto.title,
      categoryCode: dto.categoryCode,
      dueAt: new Date(dto.dueAt),
      fundingFen: dto.fundingFen,
      description: dto.description,
      weight: dto.weight,
    });
    return taskView(task, dto.fundingFen ?? 0);
  }

  @Get()
  @Authenticated({ permission: Permission.TaskRead })
  async list(@Auth() principal: Principal, @Query() q: ListTasksQuery) {
    const now = new Date();
    const page = await this.reader.list(
      principal,
      { view: q.view, state: q.state, categoryCode: q.categoryCode, overdue: q.overdue, limit: q.limit, after: decodeCursor(q.cursor, isKeyset) },
      now,
    );
    return { items: page.items.map((i) => taskView(i.task, i.escrowBalanceFen, now)), nextCursor: page.next ? encodeCursor(page.next) : null };
  }

  @Get(':id')
  @Authenticated({ permission: Permission.TaskRead })
  async get(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    const d = await this.reader.detail(principal, id);
    return taskDetailView(d.task, d.escrowBalanceFen, d.grants);
  }

  @Get(':id/actions')
  @Authenticated({ permission: Permission.TaskRead })
  async actions(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    return { items: await this.shell.availableActions(principal, id), nextCursor: null };
  }

  @Post(':id/actions/:action')
  @HttpCode(200)
  @Authenticated({ permission: Permission.TaskAct })
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({ name: 'If-Match', required: false, description: 'The task version you acted on; a stale one is 409' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  async perform(
    @Auth() principal: Principal,
    @Param('id', ParseUUIDPipe) id: string,
    @Param('action') action: string,
    @Body() payload: Record<string, unknown>,
    @Headers('if-match') ifMatch?: string,
  ) {
    if (!ACTION_NAME.test(action)) throw new DomainError(ErrorCode.VALIDATION_FAILED, 'Invalid action name');
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'The payload must be a JSON object');
    }
    // the task as the action committed it (read under its row lock), with its escrow and grants read afterwards
    const task = await this.shell.perform(principal, id, action, payload, { expectedVersion: parseIfMatch(ifMatch) });
    if (!taskVisibleTo(principal, task)) throw new NotFoundError('Task');
    const { escrowBalanceFen, grants } = await this.reader.escrowAndGrants(task.id);
    return taskDetailView(task, escrowBalanceFen, grants);
  }

  @Get(':id/grants')
  @Authenticated({ permission: Permission.TaskRead })
  async grantsOf(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    await this.shell.getVisible(principal, id);
    return { items: (await this.grants.listForTask(id)).map((g) => grantView(g)), nextCursor: null };
  }

  @Get(':id/events')
  @Authenticated({ permission: Permission.TaskRead })
  async events(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string, @Query() q: EventsQuery) {
    const events = await this.reader.events(principal, id, q.afterSeq, q.limit + 1);
    const more = events.length > q.limit;
    const page = more ? events.slice(0, q.limit) : events;
    return { items: page.map(eventView), nextCursor: more ? String(page[page.length - 1].seq) : null };
  }

  @Get(':id/events/verify')
  @Authenticated({ permission: Permission.TaskRead })
  async verify(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string) {
    return this.reader.verify(principal, id);
  }
}

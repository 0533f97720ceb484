import { Body, Controller, Get, Param, ParseUUIDPipe, Post, UseInterceptors } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Auth, Authenticated, Permission, type Principal } from '@gridflow/common';
import { LedgerService } from '@gridflow/domain';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor.js';
import { BudgetView, CreditBudgetDto, CreditView, LedgerEntryView } from './dto/budget.dto.js';

/** Org unit budgets: the `org-<unitId>` accounts of the ledger. */
@ApiTags('budgets')
@Controller('org-units')
export class BudgetsController {
  constructor(private readonly ledger: LedgerService) {}

  @Get(':id/budget')
  @Authenticated({ permission: Permission.BudgetRead })
  @ApiOkResponse({ type: BudgetView })
  @ApiNotFoundResponse({ description: 'No such unit in the caller’s subtree' })
  async get(@Auth() principal: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<BudgetView> {
    return this.ledger.orgBudget(principal, id);
  }

  @Post(':id/budget/credits')
  @Authenticated({ permission: Permission.BudgetWrite })
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A retried credit with the same key is paid once' })
  @ApiCreatedResponse({ type: CreditView })
  @ApiNotFoundResponse({ description: 'No such unit in the caller’s subtree' })
  async credit(
    @Auth() principal: Principal,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() dto: CreditBudgetDto,
  ): Promise<CreditView> {
    const r = await this.ledger.appropriate(principal, id, dto.amountFen, dto.note);
    return { orgUnitId: r.orgUnitId, balanceFen: r.balanceFen, entry: LedgerEntryView.of(r.entry) };
  }
}

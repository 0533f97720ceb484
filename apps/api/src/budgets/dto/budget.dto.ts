import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsNotEmpty, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_POSTING_FEN, toLedgerEntryView, type LedgerEntryView as LedgerEntryShape } from '@gridflow/domain';
import type { LedgerEntryEntity } from '@gridflow/persistence';

export class BudgetView {
  @ApiProperty() orgUnitId: string;
  @ApiProperty({ description: 'Balance of the unit’s budget account in fen (0 before its first appropriation)' })
  balanceFen: number;
}

export class LedgerEntryView implements LedgerEntryShape {
  @ApiProperty({ description: 'Opaque, increasing' }) id: string;
  @ApiProperty({ type: String, nullable: true }) taskId: string | null;
  @ApiProperty({ description: 'The account that receives the amount', example: 'org-<orgUnitId>' })
  debitAccount: string;
  @ApiProperty({ description: 'The account the amount leaves', example: 'external-appropriation' })
  creditAccount: string;
  @ApiProperty() amountFen: number;
  @ApiProperty({ enum: ['appropriation', 'funding', 'refund', 'expense', 'settlement'] }) kind: string;
  @ApiProperty({ type: String, nullable: true }) actorUserId: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(e: LedgerEntryEntity): LedgerEntryView {
    return Object.assign(new LedgerEntryView(), toLedgerEntryView(e));
  }
}

export class CreditView extends BudgetView {
  @ApiProperty({ type: LedgerEntryView }) entry: LedgerEntryView;
}

/** An appropriation: money from outside the platform into a unit's budget. */
export class CreditBudgetDto {
  @ApiProperty({ description: 'Integer fen, 1 … 10^13', minimum: 1, maximum: MAX_POSTING_FEN, example: 10000000 })
  @IsInt()
  @Min(1)
  @Max(MAX_POSTING_FEN)
  amountFen: number;

  @ApiProperty({ maxLength: 500, example: '追加预算拨款：防汛专项经费' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  note: string;
}

import { Body, Controller, Get, Module, Param, Put } from '@nestjs/common';
import { ApiParam, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { Auth, Authenticated, DomainError, ErrorCode, Permission, type Principal } from '@gridflow/common';
import { CalendarModule, CalendarService } from '@gridflow/domain';

class CalendarDayDto {
  @ApiProperty({ example: '2026-02-14', description: 'Local date (China Standard Time)' })
  @IsString()
  @MaxLength(10)
  date: string;

  @ApiProperty({
    enum: ['holiday', 'workday'],
    description: 'holiday: a day off; workday: a make-up working day (调休上班) on a weekend',
  })
  @IsIn(['holiday', 'workday'])
  kind: 'holiday' | 'workday';

  @ApiPropertyOptional({ example: '春节调休上班' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  name?: string;
}

class PutCalendarDto {
  @ApiProperty({
    type: [CalendarDayDto],
    description: "The year's exceptions to the Monday–Friday rule; replaces the whole year",
  })
  @IsArray()
  @ArrayMaxSize(366)
  @ValidateNested({ each: true })
  @Type(() => CalendarDayDto)
  days: CalendarDayDto[];

  @ApiPropertyOptional({ example: '国务院办公厅关于2027年部分节假日安排的通知' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  note?: string;
}

/**
 * The working-day calendar used for deadlines and the escalation ladder: public holidays and make-up working days
 * per year. Everyone reads it; administrators replace a year (the shipped State Council schedule is the default).
 */
/**
 * The `:year` segment: exactly four digits. Typed as a string so that the global pipe does not read it with Number()
 * first (which took `0x7E8`, `2026.0` and ` 2026` for years).
 */
function parseYear(raw: string): number {
  if (!/^\d{4}$/.test(raw))
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'The year must be four digits, e.g. 2026', [
      { field: 'year', errors: ['must be four digits'] },
    ]);
  return Number(raw);
}

const YearParam = () =>
  ApiParam({
    name: 'year',
    description: 'Four digits, 2000–2100',
    example: '2026',
    schema: { type: 'string', pattern: '^[0-9]{4}$' },
  });

@ApiTags('calendar')
@Controller('calendar')
export class CalendarController {
  constructor(private readonly calendar: CalendarService) {}

  @Get(':year')
  @YearParam()
  @Authenticated({ permission: Permission.CatalogRead })
  get(@Param('year') year: string) {
    return this.calendar.year(parseYear(year));
  }

  @Put(':year')
  @YearParam()
  @Authenticated({ permission: Permission.CatalogWrite })
  put(@Auth() principal: Principal, @Param('year') year: string, @Body() dto: PutCalendarDto) {
    return this.calendar.replaceYear(principal, parseYear(year), { days: dto.days, note: dto.note ?? null });
  }
}

@Module({ imports: [CalendarModule], controllers: [CalendarController] })
export class CalendarApiModule {}

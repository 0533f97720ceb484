import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An administrator's working-day calendar for a year. When a year has a row here, its days below replace the
 * shipped `config/calendar/<code>-<year>.json`.
 */
@Entity({ name: 'calendar_years' })
export class CalendarYearEntity {
  @PrimaryColumn({ name: 'calendar_code', type: 'varchar', length: 32 })
  calendarCode: string;

  @PrimaryColumn({ type: 'smallint', unsigned: true })
  year: number;

  @Column({ type: 'varchar', length: 1000, nullable: true, default: null })
  note: string | null;

  @Column({ name: 'updated_by', type: 'char', length: 36, nullable: true, default: null })
  updatedBy: string | null;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  updatedAt: Date;
}

/** A day that differs from the Monday–Friday rule: a public holiday, or a make-up working day (调休上班). */
@Entity({ name: 'calendar_days' })
export class CalendarDayEntity {
  @PrimaryColumn({ name: 'calendar_code', type: 'varchar', length: 32 })
  calendarCode: string;

  /** The local (China Standard Time) date, `YYYY-MM-DD`. */
  @PrimaryColumn({ type: 'date' })
  day: string;

  /** `holiday` or `workday` */
  @Column({ type: 'varchar', length: 16 })
  kind: string;

  @Column({ type: 'varchar', length: 64, nullable: true, default: null })
  name: string | null;
}

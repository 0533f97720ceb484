import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The clock of Gridflow: escalation level and overdue marking on tasks, the last error of a timer that exhausted its
 * retries, supervision entries opened by the escalation ladder, and the administrators' working-day calendar.
 */
export class TimersEscalation1763900300000 implements MigrationInterface {
  name = 'TimersEscalation1763900300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `supervision_entries` (`id` char(36) NOT NULL, `task_id` char(36) NOT NULL, `level` tinyint UNSIGNED NOT NULL, `supervisor_org_unit_id` char(36) NOT NULL, `timer_row_id` char(36) NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `resolved_at` datetime(3) NULL, UNIQUE INDEX `ux_supervision_timer` (`timer_row_id`), INDEX `ix_supervision_supervisor` (`supervisor_org_unit_id`, `resolved_at`), INDEX `ix_supervision_task` (`task_id`, `level`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `calendar_years` (`calendar_code` varchar(32) NOT NULL, `year` smallint UNSIGNED NOT NULL, `note` varchar(1000) NULL, `updated_by` char(36) NULL, `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`calendar_code`, `year`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `calendar_days` (`calendar_code` varchar(32) NOT NULL, `day` date NOT NULL, `kind` varchar(16) NOT NULL, `name` varchar(64) NULL, PRIMARY KEY (`calendar_code`, `day`)) ENGINE=InnoDB',
    );
    await q.query('ALTER TABLE `task_timers` ADD `last_error` text NULL');
    await q.query("ALTER TABLE `tasks` ADD `escalation_level` tinyint UNSIGNED NOT NULL DEFAULT '0'");
    await q.query('ALTER TABLE `tasks` ADD `overdue_since` datetime(3) NULL');
    await q.query('CREATE INDEX `ix_tasks_overdue` ON `tasks` (`is_open`, `overdue_since`, `due_at`)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX `ix_tasks_overdue` ON `tasks`');
    await q.query('ALTER TABLE `tasks` DROP COLUMN `overdue_since`');
    await q.query('ALTER TABLE `tasks` DROP COLUMN `escalation_level`');
    await q.query('ALTER TABLE `task_timers` DROP COLUMN `last_error`');
    await q.query('DROP TABLE `calendar_days`');
    await q.query('DROP TABLE `calendar_years`');
    await q.query('DROP TABLE `supervision_entries`');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Timer policies per category: which workflow timers run, replaced or added, for the category's tasks. */
export class CategoryTimerPolicy1763900800000 implements MigrationInterface {
  name = 'CategoryTimerPolicy1763900800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `categories` ADD `timer_policy` text NULL DEFAULT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `categories` DROP COLUMN `timer_policy`');
  }
}

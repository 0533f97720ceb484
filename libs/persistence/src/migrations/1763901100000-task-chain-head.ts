import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `tasks.last_event_seq` and `tasks.last_event_hash`: the head of each task's event chain, kept on the task row so an
 * action chains its event to it without reading task_events. Existing tasks keep NULL (an instant change, no rewrite
 * of the table): their next append reads the chain's tail once and writes the head.
 */
export class TaskChainHead1763901100000 implements MigrationInterface {
  name = 'TaskChainHead1763901100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `tasks` ADD `last_event_seq` int UNSIGNED NULL DEFAULT NULL, ADD `last_event_hash` char(64) NULL DEFAULT NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `tasks` DROP COLUMN `last_event_hash`, DROP COLUMN `last_event_seq`');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `outbox.job_id`: the BullMQ job a row went out in when that is not the row's own (NULL). The relay publishes the
 * notify rows of one pass together as NotifyBatch jobs; the sweeper and the relay's lost-job check look for a row's
 * job under this id.
 */
export class OutboxJobId1763901000000 implements MigrationInterface {
  name = 'OutboxJobId1763901000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `outbox` ADD `job_id` varchar(100) NULL DEFAULT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `outbox` DROP COLUMN `job_id`');
  }
}

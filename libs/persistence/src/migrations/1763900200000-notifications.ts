import type { MigrationInterface, QueryRunner } from 'typeorm';

/** In-app notifications, deduplicated per task event, template and recipient. */
export class Notifications1763900200000 implements MigrationInterface {
  name = 'Notifications1763900200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `notifications` (`id` char(36) NOT NULL, `user_id` char(36) NOT NULL, `task_id` char(36) NULL, `template` varchar(64) NOT NULL, `title` varchar(300) NOT NULL, `dedup_key` varchar(200) NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `read_at` datetime(3) NULL, UNIQUE INDEX `ux_notifications_dedup` (`dedup_key`), INDEX `ix_notifications_user` (`user_id`, `read_at`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `notifications`');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbound notification channels: admin-registered webhook endpoints and their deliveries (one per endpoint and
 * notification), the SMS outbox (one per notification and user, by the notification's dedup key), and an optional
 * phone number on users.
 */
export class NotificationChannels1763900400000 implements MigrationInterface {
  name = 'NotificationChannels1763900400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `webhook_endpoints` (`id` char(36) NOT NULL, `url` varchar(2000) NOT NULL, `secret` varchar(255) NOT NULL, `events` varchar(2000) NOT NULL, `enabled` tinyint NOT NULL DEFAULT 1, `created_by` char(36) NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      "CREATE TABLE `webhook_deliveries` (`id` char(36) NOT NULL, `endpoint_id` char(36) NOT NULL, `notification_id` char(36) NOT NULL, `task_id` char(36) NULL, `template` varchar(64) NOT NULL, `payload` text NOT NULL, `status` varchar(16) NOT NULL DEFAULT 'pending', `attempts` int UNSIGNED NOT NULL DEFAULT '0', `last_status_code` smallint UNSIGNED NULL, `last_error` text NULL, `next_attempt_at` datetime(3) NULL, `delivered_at` datetime(3) NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), INDEX `ix_webhook_deliveries_status` (`status`, `id`), UNIQUE INDEX `ux_webhook_deliveries_endpoint_notification` (`endpoint_id`, `notification_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query(
      "CREATE TABLE `sms_outbox` (`id` char(36) NOT NULL, `user_id` char(36) NOT NULL, `notification_id` char(36) NOT NULL, `task_id` char(36) NULL, `phone` varchar(32) NOT NULL, `template` varchar(64) NOT NULL, `text` varchar(500) NOT NULL, `dedup_key` varchar(200) NOT NULL, `status` varchar(16) NOT NULL DEFAULT 'pending', `attempts` int UNSIGNED NOT NULL DEFAULT '0', `driver` varchar(32) NULL, `last_error` text NULL, `sent_at` datetime(3) NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), UNIQUE INDEX `ux_sms_outbox_dedup` (`dedup_key`), INDEX `ix_sms_outbox_user` (`user_id`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query('ALTER TABLE `users` ADD `phone` varchar(32) NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `users` DROP COLUMN `phone`');
    await q.query('DROP TABLE `sms_outbox`');
    await q.query('DROP TABLE `webhook_deliveries`');
    await q.query('DROP TABLE `webhook_endpoints`');
  }
}

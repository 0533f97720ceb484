import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Org tree, users, refresh tokens and worker heartbeats. */
export class Foundation1763900000000 implements MigrationInterface {
  name = 'Foundation1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `org_units` (`id` char(36) NOT NULL, `code` varchar(64) NOT NULL, `name` varchar(128) NOT NULL, `kind` varchar(16) NOT NULL, `parent_id` char(36) NULL, `path` varchar(760) NOT NULL, `depth` smallint UNSIGNED NOT NULL, `disabled` tinyint NOT NULL DEFAULT 0, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), UNIQUE INDEX `ux_org_units_code` (`code`), INDEX `ix_org_units_path` (`path`), INDEX `ix_org_units_kind` (`kind`), INDEX `ix_org_units_parent` (`parent_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `refresh_tokens` (`id` char(36) NOT NULL, `user_id` char(36) NOT NULL, `family_id` char(36) NOT NULL, `token_hash` char(64) NOT NULL, `expires_at` datetime(3) NOT NULL, `revoked_at` datetime(3) NULL, `replaced_by_id` char(36) NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), UNIQUE INDEX `ux_refresh_tokens_hash` (`token_hash`), INDEX `ix_refresh_tokens_family` (`family_id`), INDEX `ix_refresh_tokens_user` (`user_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `users` (`id` char(36) NOT NULL, `username` varchar(64) NOT NULL, `display_name` varchar(128) NOT NULL, `org_unit_id` char(36) NOT NULL, `roles` varchar(128) NOT NULL, `password_hash` varchar(255) NOT NULL, `disabled` tinyint NOT NULL DEFAULT 0, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), UNIQUE INDEX `ux_users_username` (`username`), INDEX `ix_users_org_unit` (`org_unit_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      "CREATE TABLE `worker_heartbeats` (`worker_id` varchar(128) NOT NULL, `beat_at` datetime(3) NOT NULL, `beats` int UNSIGNED NOT NULL DEFAULT '0', PRIMARY KEY (`worker_id`)) ENGINE=InnoDB",
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `worker_heartbeats`');
    await q.query('DROP TABLE `users`');
    await q.query('DROP TABLE `refresh_tokens`');
    await q.query('DROP TABLE `org_units`');
  }
}

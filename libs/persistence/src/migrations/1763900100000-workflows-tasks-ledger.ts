import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Workflows and versions, tasks with events, timers, outbox and idempotency keys; catalogs, ledger and grants. */
export class WorkflowsTasksLedger1763900100000 implements MigrationInterface {
  name = 'WorkflowsTasksLedger1763900100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      "CREATE TABLE `accounts` (`id` varchar(64) NOT NULL, `kind` varchar(16) NOT NULL, `org_unit_id` char(36) NULL, `task_id` char(36) NULL, `balance_fen` bigint NOT NULL DEFAULT '0', `may_go_negative` tinyint NOT NULL DEFAULT 0, INDEX `ix_accounts_task` (`task_id`), INDEX `ix_accounts_org_unit` (`org_unit_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query(
      'CREATE TABLE `ledger_entries` (`id` bigint UNSIGNED NOT NULL AUTO_INCREMENT, `debit_account` varchar(64) NOT NULL, `credit_account` varchar(64) NOT NULL, `amount_fen` bigint NOT NULL, `kind` varchar(32) NOT NULL, `task_id` char(36) NULL, `actor_user_id` char(36) NULL, `payee` varchar(200) NULL, `note` varchar(500) NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), INDEX `ix_ledger_credit` (`credit_account`), INDEX `ix_ledger_debit` (`debit_account`), INDEX `ix_ledger_task` (`task_id`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      "CREATE TABLE `grants` (`id` char(36) NOT NULL, `power_code` varchar(64) NOT NULL, `grantor_org_unit_id` char(36) NOT NULL, `grantee_org_unit_id` char(36) NOT NULL, `task_id` char(36) NOT NULL, `scope_org_unit_id` char(36) NOT NULL, `cap_fen` bigint NULL, `spent_fen` bigint NOT NULL DEFAULT '0', `valid_until` datetime(3) NULL, `parent_grant_id` char(36) NULL, `status` varchar(16) NOT NULL DEFAULT 'active', `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `revoked_at` datetime(3) NULL, INDEX `ix_grants_parent` (`parent_grant_id`), INDEX `ix_grants_grantee` (`grantee_org_unit_id`, `status`), INDEX `ix_grants_task` (`task_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query(
      'CREATE TABLE `powers` (`code` varchar(64) NOT NULL, `name` varchar(200) NOT NULL, `legal_basis` varchar(500) NOT NULL, `holder_org_unit_id` char(36) NOT NULL, `bears_money` tinyint NOT NULL DEFAULT 0, PRIMARY KEY (`code`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `categories` (`code` varchar(64) NOT NULL, `name` varchar(200) NOT NULL, `owner_org_unit_id` char(36) NOT NULL, `required_power_codes` varchar(1000) NOT NULL, `on_community_access_list` tinyint NOT NULL DEFAULT 0, `workflow_key` varchar(64) NOT NULL, PRIMARY KEY (`code`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `duties` (`scope` varchar(8) NOT NULL, `scope_value` varchar(64) NOT NULL, `category_code` varchar(64) NOT NULL, INDEX `ix_duties_category` (`category_code`), PRIMARY KEY (`scope`, `scope_value`, `category_code`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `idempotency_keys` (`user_id` char(36) NOT NULL, `idem_key` varchar(128) NOT NULL, `request_hash` char(64) NOT NULL, `status_code` smallint UNSIGNED NOT NULL, `response_body` longtext NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`user_id`, `idem_key`)) ENGINE=InnoDB',
    );
    await q.query(
      "CREATE TABLE `outbox` (`id` bigint UNSIGNED NOT NULL AUTO_INCREMENT, `job_name` varchar(64) NOT NULL, `aggregate_id` char(36) NULL, `payload` text NOT NULL, `correlation_id` varchar(64) NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `sent_at` datetime(3) NULL, `attempts` int UNSIGNED NOT NULL DEFAULT '0', `last_error` text NULL, INDEX `ix_outbox_pending` (`sent_at`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query(
      'CREATE TABLE `applied_effects` (`outbox_id` bigint UNSIGNED NOT NULL, `job_name` varchar(64) NOT NULL, `applied_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`outbox_id`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `task_events` (`task_id` char(36) NOT NULL, `seq` int UNSIGNED NOT NULL, `action` varchar(64) NOT NULL, `from_state` varchar(32) NULL, `to_state` varchar(32) NOT NULL, `actor_user_id` char(36) NULL, `actor_org_unit_id` char(36) NULL, `payload` longtext NOT NULL, `at` datetime(3) NOT NULL, `hash` char(64) NOT NULL, `prev_hash` char(64) NOT NULL, PRIMARY KEY (`task_id`, `seq`)) ENGINE=InnoDB',
    );
    await q.query(
      'CREATE TABLE `task_timers` (`id` char(36) NOT NULL, `task_id` char(36) NOT NULL, `timer_id` varchar(64) NOT NULL, `state` varchar(32) NOT NULL, `due_at` datetime(3) NOT NULL, `status` varchar(16) NOT NULL, `do_action` text NOT NULL, `task_version` int UNSIGNED NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `fired_at` datetime(3) NULL, INDEX `ix_task_timers_task` (`task_id`, `status`), INDEX `ix_task_timers_due` (`status`, `due_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
    );
    await q.query(
      "CREATE TABLE `tasks` (`id` char(36) NOT NULL, `title` varchar(200) NOT NULL, `description` text NULL, `category_code` varchar(64) NOT NULL, `owner_org_unit_id` char(36) NOT NULL, `assignee_org_unit_id` char(36) NOT NULL, `owner_path` varchar(760) NOT NULL, `assignee_path` varchar(760) NOT NULL, `parent_id` char(36) NULL, `root_id` char(36) NOT NULL, `depth` smallint UNSIGNED NOT NULL DEFAULT '0', `state` varchar(32) NOT NULL, `is_open` tinyint NOT NULL DEFAULT 1, `progress` tinyint UNSIGNED NOT NULL DEFAULT '0', `weight` int UNSIGNED NOT NULL DEFAULT '1', `due_at` datetime(3) NOT NULL, `workflow_key` varchar(64) NOT NULL, `workflow_version` int UNSIGNED NOT NULL, `version` int UNSIGNED NOT NULL DEFAULT '1', `approval` longtext NULL, `terms` text NULL, `return_count` int UNSIGNED NOT NULL DEFAULT '0', `rejection_count` int UNSIGNED NOT NULL DEFAULT '0', `extension_count` int UNSIGNED NOT NULL DEFAULT '0', `children_total` int UNSIGNED NOT NULL DEFAULT '0', `children_open` int UNSIGNED NOT NULL DEFAULT '0', `children_closed` int UNSIGNED NOT NULL DEFAULT '0', `children_returned` int UNSIGNED NOT NULL DEFAULT '0', `children_overdue` int UNSIGNED NOT NULL DEFAULT '0', `created_by` char(36) NOT NULL, `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), `closed_at` datetime(3) NULL, INDEX `ix_tasks_assignee_path` (`assignee_path`), INDEX `ix_tasks_parent` (`parent_id`), INDEX `ix_tasks_issued` (`owner_org_unit_id`, `is_open`, `due_at`, `id`), INDEX `ix_tasks_inbox` (`assignee_org_unit_id`, `is_open`, `due_at`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
    );
    await q.query(
      "CREATE TABLE `workflows` (`workflow_key` varchar(64) NOT NULL, `name` varchar(200) NOT NULL, `draft` longtext NOT NULL, `draft_updated_by` char(36) NULL, `latest_version` int UNSIGNED NOT NULL DEFAULT '0', `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), PRIMARY KEY (`workflow_key`)) ENGINE=InnoDB",
    );
    await q.query(
      'CREATE TABLE `workflow_versions` (`workflow_key` varchar(64) NOT NULL, `version` int UNSIGNED NOT NULL, `definition` longtext NOT NULL, `hash` char(64) NOT NULL, `published_at` datetime(3) NOT NULL, `published_by` char(36) NULL, `deprecated` tinyint NOT NULL DEFAULT 0, PRIMARY KEY (`workflow_key`, `version`)) ENGINE=InnoDB',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `workflow_versions`');
    await q.query('DROP TABLE `workflows`');
    await q.query('DROP TABLE `tasks`');
    await q.query('DROP TABLE `task_timers`');
    await q.query('DROP TABLE `task_events`');
    await q.query('DROP TABLE `applied_effects`');
    await q.query('DROP TABLE `outbox`');
    await q.query('DROP TABLE `idempotency_keys`');
    await q.query('DROP TABLE `duties`');
    await q.query('DROP TABLE `categories`');
    await q.query('DROP TABLE `powers`');
    await q.query('DROP TABLE `grants`');
    await q.query('DROP TABLE `ledger_entries`');
    await q.query('DROP TABLE `accounts`');
  }
}

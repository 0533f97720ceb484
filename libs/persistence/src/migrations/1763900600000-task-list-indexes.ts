import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task lists at district scale, as keyset pages on (due_at, id): the tasks a unit issued, in due order (the issued
 * list, and what a unit handed across to a sibling in the `all` list); every task in due order (the `all` list of a
 * unit whose subtree holds much of the district's work); and the path index extended by the due time, so a smaller
 * subtree is sorted on index entries alone (it still serves every prefix match the path index served).
 */
export class TaskListIndexes1763900600000 implements MigrationInterface {
  name = 'TaskListIndexes1763900600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX `ix_tasks_issued_due` ON `tasks` (`owner_org_unit_id`, `due_at`, `id`)');
    await q.query('CREATE INDEX `ix_tasks_due` ON `tasks` (`due_at`, `id`)');
    await q.query('CREATE INDEX `ix_tasks_assignee_path_due` ON `tasks` (`assignee_path`, `due_at`)');
    await q.query('DROP INDEX `ix_tasks_assignee_path` ON `tasks`');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX `ix_tasks_assignee_path` ON `tasks` (`assignee_path`)');
    await q.query('DROP INDEX `ix_tasks_assignee_path_due` ON `tasks`');
    await q.query('DROP INDEX `ix_tasks_due` ON `tasks`');
    await q.query('DROP INDEX `ix_tasks_issued_due` ON `tasks`');
  }
}

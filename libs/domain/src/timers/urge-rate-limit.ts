import type { EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '@gridflow/common';

/** The action owners and their superiors take to urge (催办) a task by hand. */
export const URGE_ACTION = 'urge';

/** A task may be urged by hand once per window, whoever urges it. */
export const URGE_WINDOW_MS = 10 * 60_000;

/**
 * Refuses a manual urge within URGE_WINDOW_MS of the task's previous one (429 RATE_LIMITED, with `retryAfterSeconds`).
 * The caller holds the task's row lock, so two concurrent urges cannot both pass. The task's event history is the
 * record: the last `urge` event's time.
 */
export async function assertUrgeAllowed(em: EntityManager, taskId: string, now: Date): Promise<void> {
  const rows = (await em.query(
    'SELECT at FROM task_events WHERE task_id = ? AND action = ? ORDER BY seq DESC LIMIT 1',
    [taskId, URGE_ACTION],
  )) as { at: Date | string }[];
  if (!rows.length) return;
  const last = new Date(rows[0].at).getTime();
  const wait = last + URGE_WINDOW_MS - now.getTime();
  if (wait > 0) {
    throw new DomainError(ErrorCode.RATE_LIMITED, 'This task was urged less than 10 minutes ago; try again later', {
      retryAfterSeconds: Math.ceil(wait / 1000),
      lastUrgedAt: new Date(last).toISOString(),
    });
  }
}

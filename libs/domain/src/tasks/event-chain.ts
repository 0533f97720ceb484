import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson } from '@gridflow/engine';
import { insertRows, TaskEventEntity } from '@gridflow/persistence';

export const GENESIS_HASH = '0'.repeat(64);

export interface NewEvent {
  taskId: string;
  action: string;
  fromState: string | null;
  toState: string;
  actorUserId: string | null;
  actorOrgUnitId: string | null;
  payload: Record<string, unknown>;
  at: Date;
}

/** The hash of an event covers every field a reader sees and the previous event's hash. */
export function eventHash(e: NewEvent & { seq: number }, prevHash: string): string {
  const body = canonicalJson({
    taskId: e.taskId,
    seq: e.seq,
    action: e.action,
    fromState: e.fromState,
    toState: e.toState,
    actorUserId: e.actorUserId,
    actorOrgUnitId: e.actorOrgUnitId,
    payload: e.payload,
    at: e.at.toISOString(),
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

/**
 * Appends an event to the task's chain. The caller holds the task row lock, so reading the last event and
 * inserting the next cannot interleave with another action on the same task.
 */
export async function appendEvent(em: EntityManager, e: NewEvent): Promise<TaskEventEntity> {
  const last = (await em.query('SELECT seq, hash FROM task_events WHERE task_id = ? ORDER BY seq DESC LIMIT 1', [
    e.taskId,
  ])) as { seq: number; hash: string }[];
  const seq = (last[0]?.seq ?? 0) + 1;
  const prevHash = last[0]?.hash ?? GENESIS_HASH;
  const row = em.getRepository(TaskEventEntity).create({ ...e, seq, prevHash, hash: eventHash({ ...e, seq }, prevHash) });
  await insertRows(em, TaskEventEntity, [row]);
  return row;
}

/** Writes the first event of many new tasks in one statement (seq 1, chained to the genesis hash). */
export async function insertFirstEvents(em: EntityManager, events: NewEvent[]): Promise<void> {
  const repo = em.getRepository(TaskEventEntity);
  const rows = events.map((e) => repo.create({ ...e, seq: 1, prevHash: GENESIS_HASH, hash: eventHash({ ...e, seq: 1 }, GENESIS_HASH) }));
  for (let i = 0; i < rows.length; i += 1000) await insertRows(em, TaskEventEntity, rows.slice(i, i + 1000));
}

/** Recomputes the chain; returns the first broken seq, or null when every link holds. */
export function verifyChain(events: TaskEventEntity[]): { valid: boolean; count: number; brokenAtSeq: number | null } {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const e of events) {
    const ok =
      e.seq === expectedSeq &&
      e.prevHash === prev &&
      e.hash === eventHash({ ...e, at: new Date(e.at) }, prev);
    if (!ok) return { valid: false, count: events.length, brokenAtSeq: e.seq };
    prev = e.hash;
    expectedSeq++;
  }
  return { valid: true, count: events.length, brokenAtSeq: null };
}

import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
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
 * The last event of a task's chain, as the task row records it (`last_event_seq`, `last_event_hash`). NULL on a task
 * whose events were all written before the row kept its head.
 */
export interface ChainHead {
  lastEventSeq: number | null;
  lastEventHash: string | null;
}

/** The event that follows `last` (the genesis hash before the first). */
function link(em: EntityManager, e: NewEvent, last: { seq: number; hash: string } | null): TaskEventEntity {
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  return em.getRepository(TaskEventEntity).create({ ...e, seq, prevHash, hash: eventHash({ ...e, seq }, prevHash) });
}

/**
 * The chain's last event, read from task_events. A locking read: it sees the last committed event whenever the
 * caller's transaction took its snapshot (a version migration counts tasks before it locks them).
 */
async function tail(em: EntityManager, taskId: string): Promise<{ seq: number; hash: string } | null> {
  const rows = (await em.query('SELECT seq, hash FROM task_events WHERE task_id = ? ORDER BY seq DESC LIMIT 1 LOCK IN SHARE MODE', [
    taskId,
  ])) as {
    seq: number;
    hash: string;
  }[];
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
}

const isDuplicateKey = (e: unknown): boolean => (e as { code?: string }).code === 'ER_DUP_ENTRY';
const logger = new Logger('EventChain');

/**
 * Appends an event to the task's chain and moves `head` (the task entity) to it. The caller holds the task row lock,
 * so no other append interleaves, and writes the new head with its own UPDATE of the task row in the same transaction.
 *
 * With a head on the row, the event follows it and nothing is read. Without one (every event of the task predates the
 * head columns), the chain's tail is read from task_events. A head left behind by a writer that appends without
 * moving it (a release before the head columns, during a rolling upgrade) is caught by the primary key: the event's
 * seq is taken, the insert fails as a duplicate, and the event is chained to the tail read then.
 */
export async function appendEvent(em: EntityManager, e: NewEvent, head: ChainHead): Promise<TaskEventEntity> {
  const known = head.lastEventSeq != null && head.lastEventHash != null;
  let row = link(em, e, known ? { seq: Number(head.lastEventSeq), hash: head.lastEventHash as string } : await tail(em, e.taskId));
  try {
    await insertRows(em, TaskEventEntity, [row]);
  } catch (err) {
    if (!known || !isDuplicateKey(err)) throw err;
    // expected only while a release that does not keep the head still runs; otherwise a writer forgot to write it
    logger.warn(`task ${e.taskId}: its chain head (seq ${head.lastEventSeq}) is behind its events; chaining to the last event`);
    row = link(em, e, await tail(em, e.taskId));
    await insertRows(em, TaskEventEntity, [row]);
  }
  head.lastEventSeq = row.seq;
  head.lastEventHash = row.hash;
  return row;
}

/**
 * The first event of a new task (seq 1, chained to the genesis hash), with the task's head set to it: insert the task,
 * then the events (`insertEvents`).
 */
export function firstEvent(em: EntityManager, e: NewEvent, head: ChainHead): TaskEventEntity {
  const row = link(em, e, null);
  head.lastEventSeq = row.seq;
  head.lastEventHash = row.hash;
  return row;
}

/** Writes events (first events of new tasks) in statements of up to 1,000 rows. */
export async function insertEvents(em: EntityManager, rows: readonly TaskEventEntity[]): Promise<void> {
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

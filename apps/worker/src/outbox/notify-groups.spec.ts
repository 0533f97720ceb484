import { describe, expect, it } from '@jest/globals';
import { NOTIFY_BATCH_ROWS, NOTIFY_BATCH_TASKS, notifyGroups } from './outbox-relay.service.js';

const row = (id: number, taskIds?: number) => ({ id, tasks: taskIds ?? 1 });
const tasksOf = (r: { tasks: number }) => r.tasks;

describe('notifyGroups (the relay’s notify batches)', () => {
  it('keeps rows in id order, at most NOTIFY_BATCH_ROWS per group', () => {
    const rows = Array.from({ length: NOTIFY_BATCH_ROWS * 2 + 5 }, (_, i) => row(i + 1));
    const groups = notifyGroups(rows, tasksOf);
    expect(groups.map((g) => g.length)).toEqual([NOTIFY_BATCH_ROWS, NOTIFY_BATCH_ROWS, 5]);
    expect(groups.flat().map((r) => r.id)).toEqual(rows.map((r) => r.id));
  });

  it('counts a fan-out row’s tasks: no group names more than NOTIFY_BATCH_TASKS tasks, a full fan-out row goes alone', () => {
    const groups = notifyGroups([row(1), row(2, NOTIFY_BATCH_TASKS), row(3), row(4, 300), row(5, 250), row(6)], tasksOf);
    expect(groups.map((g) => g.map((r) => r.id))).toEqual([[1], [2], [3, 4], [5, 6]]);
  });

  it('gives no group for no rows, one for one row', () => {
    expect(notifyGroups([], tasksOf)).toEqual([]);
    expect(notifyGroups([row(7)], tasksOf).map((g) => g.map((r) => r.id))).toEqual([[7]]);
  });
});

import { describe, expect, it } from '@jest/globals';
import {
  JOB_OPTIONS,
  notifyBatchJobId,
  outboxJobRoute,
  TIMER_JOB_GRACE_MS,
  TIMER_WAKE_SLOT_MS,
  timerJobId,
  timerJobs,
  timerWakeJobId,
} from './job-options.js';
import { JobName } from './queues.js';

describe('timerJobs', () => {
  const now = Date.UTC(2026, 11, 3, 8, 0, 0, 0);
  const row = (id: string, dueInMs: number) => ({
    timerRowId: id,
    taskId: `task-${id}`,
    dueAt: new Date(now + dueInMs).toISOString(),
  });

  it('gives each row its own job, under its row id, due TIMER_JOB_GRACE_MS after the row', () => {
    const jobs = timerJobs([row('a', 5_000), row('b', 60_000)], now);
    const own = jobs.filter((j) => j.name === JobName.FireTimer);
    expect(own.map((j) => [j.opts.jobId, j.opts.delay, j.data.timerRowId])).toEqual([
      [timerJobId('a'), 5_000 + TIMER_JOB_GRACE_MS, 'a'],
      [timerJobId('b'), 60_000 + TIMER_JOB_GRACE_MS, 'b'],
    ]);
    expect(own[0].opts.attempts).toBe(JOB_OPTIONS[JobName.FireTimer].attempts);
  });

  it('wakes the drain once per slot, at the start of the slot the rows fall in', () => {
    // three rows in one slot, one in the next slot, one a minute later
    const jobs = timerJobs([row('a', 1_000), row('b', 1_030), row('c', 1_099), row('d', 1_100), row('e', 60_050)], now);
    const wakes = jobs.filter((j) => j.name === JobName.WakeTimers);
    expect(wakes.map((j) => [j.opts.jobId, j.opts.delay, j.data.at])).toEqual([
      [timerWakeJobId(now + 1_000), 1_000, now + 1_000],
      [timerWakeJobId(now + 1_100), 1_100, now + 1_100],
      [timerWakeJobId(now + 60_000), 60_000, now + 60_000],
    ]);
    // no wake-up comes after the row it is for
    for (const r of ['a', 'b', 'c', 'd', 'e']) {
      const due = Date.parse(String(jobs.find((j) => j.data.timerRowId === r)?.data.dueAt));
      expect(wakes.some((w) => (w.data.at as number) <= due && due < (w.data.at as number) + TIMER_WAKE_SLOT_MS)).toBe(
        true,
      );
    }
    expect(wakes.every((w) => w.opts.attempts === 1 && w.opts.removeOnComplete === true)).toBe(true);
  });

  it('runs at once for rows already due, and for a payload whose due time cannot be read', () => {
    const jobs = timerJobs([row('late', -10_000), { timerRowId: 'bad', taskId: 't', dueAt: 'not a date' }], now);
    expect(jobs.map((j) => [j.name, j.opts.delay])).toEqual([
      [JobName.FireTimer, 0],
      [JobName.FireTimer, TIMER_JOB_GRACE_MS],
      [JobName.WakeTimers, 0],
      [JobName.WakeTimers, 0],
    ]);
  });

  it('keeps what the caller adds to a row (outbox id, correlation id) in the row’s job', () => {
    const [job] = timerJobs([{ ...row('a', 1_000), outboxId: '42', correlationId: 'req-1' }], now);
    expect(job.data).toEqual({ ...row('a', 1_000), outboxId: '42', correlationId: 'req-1' });
  });
});

describe('notify batch job ids and routes', () => {
  it('names a batch by its rows: the same rows give the same id, other rows or another grouping another one', () => {
    const id = notifyBatchJobId(['10', '11', '13']);
    expect(id).toMatch(/^notify-batch-10-3-[0-9a-f]{16}$/);
    expect(notifyBatchJobId(['10', '11', '13'])).toBe(id);
    expect(notifyBatchJobId(['10', '12', '13'])).not.toBe(id);
    expect(notifyBatchJobId(['10', '11'])).not.toBe(id);
  });

  it('routes a row to the batch job it went out in when it has one, else to its own', () => {
    const payload = { taskId: 't', eventSeq: 1, template: 'task.accepted', to: 'owner' };
    expect(outboxJobRoute(JobName.Notify, payload, '42')).toEqual({ queueName: 'effects', jobId: 'outbox-42' });
    expect(outboxJobRoute(JobName.Notify, payload, '42', 'notify-batch-40-3-abc')).toEqual({
      queueName: 'effects',
      jobId: 'notify-batch-40-3-abc',
    });
  });
});

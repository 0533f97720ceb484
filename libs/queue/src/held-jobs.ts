import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** The queue's own ioredis client. BullMQ's type for it declares only the commands BullMQ itself uses. */
export async function queueClient(queue: Queue): Promise<Redis> {
  return (await queue.getBackend().client) as unknown as Redis;
}

/**
 * Whether BullMQ still holds each job, in any state (its hash exists), in the order given: one pipelined EXISTS per
 * job, one pipeline per queue. A command that fails reads as not held: the callers publish such a job again, and job
 * ids are deterministic, so a job that was held after all is not duplicated.
 */
export async function jobsHeld(jobs: readonly { queue: Queue; jobId: string }[]): Promise<boolean[]> {
  const held = jobs.map(() => false);
  const byQueue = new Map<Queue, number[]>();
  for (const [i, job] of jobs.entries()) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), i]);
  await Promise.all(
    [...byQueue].map(async ([queue, indexes]) => {
      const pipeline = (await queueClient(queue)).pipeline();
      for (const i of indexes) pipeline.exists(queue.toKey(jobs[i].jobId));
      const results = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
      for (const [k, [err, n]] of results.entries()) held[indexes[k]] = !err && Number(n) > 0;
    }),
  );
  return held;
}

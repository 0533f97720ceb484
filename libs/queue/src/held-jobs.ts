import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** The queue's own ioredis client. BullMQ's type for it declares only the commands BullMQ itself uses. */
export async function queueClient(queue: Queue): Promise<Redis> {
  return (await queue.getBackend().client) as unknown as Redis;
}

/**
 * Whether BullMQ still holds each job, in any state (its hash exists), in the order given: one pipelined EXISTS per
 * job, one pipeline per queue. Throws when Redis does not answer a command: a job of unknown fate is not taken for
 * lost (the callers would publish it again, and a notify batch regrouped on republishing gets a new job id).
 */
export async function jobsHeld(jobs: readonly { queue: Queue; jobId: string }[]): Promise<boolean[]> {
  const held = jobs.map(() => false);
  const byQueue = new Map<Queue, number[]>();
  for (const [i, job] of jobs.entries()) {
    const indexes = byQueue.get(job.queue);
    if (indexes) indexes.push(i);
    else byQueue.set(job.queue, [i]);
  }
  await Promise.all(
    [...byQueue].map(async ([queue, indexes]) => {
      const pipeline = (await queueClient(queue)).pipeline();
      for (const i of indexes) pipeline.exists(queue.toKey(jobs[i].jobId));
      const results = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
      if (results.length !== indexes.length) throw new Error(`Redis answered ${results.length} of ${indexes.length} EXISTS`);
      for (const [k, [err, n]] of results.entries()) {
        if (err) throw err;
        held[indexes[k]] = Number(n) > 0;
      }
    }),
  );
  return held;
}

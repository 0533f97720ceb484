import { describe, expect, it } from '@jest/globals';
import { DelayedError, type Job } from 'bullmq';
import { DEPENDENCY_RETRY_MS, waitingOutOutages } from './dependency-wait.js';

/** The two members of a BullMQ job the helper uses. */
function jobRecording() {
  const delays: { until: number; token: string }[] = [];
  const job = {
    attemptsMade: 0,
    moveToDelayed: async (until: number, token: string) => {
      delays.push({ until, token });
    },
  } as unknown as Job;
  return { job, delays };
}

const down = async () => false;
const up = async () => true;
const dbError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:3306`), { code });

describe('waitingOutOutages', () => {
  it('returns what the work returns', async () => {
    const { job, delays } = jobRecording();
    expect(await waitingOutOutages(job, 'tok', async () => 42, down)).toBe(42);
    expect(delays).toEqual([]);
  });

  it.each(['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET'])(
    'puts the job back to sleep without spending an attempt when the database is unreachable (%s)',
    async (code) => {
      const { job, delays } = jobRecording();
      const before = Date.now();
      await expect(
        waitingOutOutages(
          job,
          'tok',
          async () => {
            throw dbError(code);
          },
          down,
        ),
      ).rejects.toBeInstanceOf(DelayedError);
      expect(delays).toHaveLength(1);
      expect(delays[0].token).toBe('tok');
      expect(delays[0].until).toBeGreaterThanOrEqual(before + DEPENDENCY_RETRY_MS);
      expect(delays[0].until).toBeLessThanOrEqual(Date.now() + DEPENDENCY_RETRY_MS);
    },
  );

  it('lets any other error fail the attempt, as before', async () => {
    const { job, delays } = jobRecording();
    const err = Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY' });
    await expect(
      waitingOutOutages(
        job,
        'tok',
        async () => {
          throw err;
        },
        down,
      ),
    ).rejects.toBe(err);
    expect(delays).toEqual([]);
  });

  it('without a lock token (a job run by hand) the error stands', async () => {
    const { job, delays } = jobRecording();
    await expect(
      waitingOutOutages(
        job,
        undefined,
        async () => {
          throw dbError('ECONNREFUSED');
        },
        down,
      ),
    ).rejects.toThrow('ECONNREFUSED');
    expect(delays).toEqual([]);
  });

  it('a lost connection while the database answers pings is the job’s own fault: the attempt is spent', async () => {
    const { job, delays } = jobRecording();
    await expect(
      waitingOutOutages(
        job,
        'tok',
        async () => {
          throw dbError('PROTOCOL_CONNECTION_LOST');
        },
        up,
      ),
    ).rejects.toThrow('PROTOCOL_CONNECTION_LOST');
    expect(delays).toEqual([]);
  });
});

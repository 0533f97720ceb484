import { DelayedError, type Job } from 'bullmq';
import { isDependencyUnavailable } from '@gridflow/common';

/** How long a job whose database is unreachable sleeps before it tries again. */
export const DEPENDENCY_RETRY_MS = 2_000;

/** A ping for `waitingOutOutages`: whether the database answers a trivial query. */
export const pingDatabase = (ds: { query: (sql: string) => Promise<unknown> }) => (): Promise<boolean> =>
  ds.query('SELECT 1').then(
    () => true,
    () => false,
  );

/**
 * Runs a job's work; when it fails because MariaDB cannot be reached (refused, reset, lost connection) and a ping
 * (`databaseUp`) confirms the database is away, the job is put back to sleep for DEPENDENCY_RETRY_MS without spending
 * one of its attempts. A job's attempts are for faults of the job itself: an outage longer than the back-off of all
 * its attempts (about a minute) would otherwise fail it for good, and the work would wait for an operator. Other
 * errors — and a lost connection while the database answers pings (a statement the server refuses by dropping the
 * connection) — fail the attempt as before.
 */
export async function waitingOutOutages<T>(
  job: Job,
  token: string | undefined,
  work: () => Promise<T>,
  databaseUp: () => Promise<boolean>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!token || !isDependencyUnavailable(err) || (await databaseUp())) throw err;
    await job.moveToDelayed(Date.now() + DEPENDENCY_RETRY_MS, token);
    throw new DelayedError();
  }
}

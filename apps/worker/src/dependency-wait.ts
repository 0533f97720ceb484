import { DelayedError, type Job } from 'bullmq';
import { isDependencyUnavailable } from '@gridflow/common';

/** How long a job whose database is unreachable sleeps before it tries again. */
export const DEPENDENCY_RETRY_MS = 2_000;

/**
 * Runs a job's work; when it fails because MariaDB cannot be reached (refused, reset, lost connection), the job is put
 * back to sleep for DEPENDENCY_RETRY_MS without spending one of its attempts. A job's attempts are for faults of the
 * job itself: an outage longer than the back-off of all its attempts (about a minute) would otherwise fail it for
 * good, and the work would wait for an operator. Other errors fail the attempt as before.
 */
export async function waitingOutOutages<T>(job: Job, token: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!token || !isDependencyUnavailable(err)) throw err;
    await job.moveToDelayed(Date.now() + DEPENDENCY_RETRY_MS, token);
    throw new DelayedError();
  }
}

import { describe, expect, it } from '@jest/globals';
import { nextSweepDelay, SWEEP_EVERY_MS, SWEEP_QUICK_RETRIES, SWEEP_RETRY_MS } from './timer-sweeper.service.js';

const deadlock = Object.assign(new Error('Deadlock found when trying to get lock'), {
  code: 'ER_LOCK_DEADLOCK',
  errno: 1213,
});
const lockWait = Object.assign(new Error('Lock wait timeout exceeded'), { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 });
const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('nextSweepDelay', () => {
  it('runs the next sweep after the full period when the last one succeeded or failed for another reason', () => {
    expect(nextSweepDelay(null, 0)).toBe(SWEEP_EVERY_MS);
    expect(nextSweepDelay(refused, 0)).toBe(SWEEP_EVERY_MS);
  });

  it('runs it soon after a sweep lost a lock conflict, a few times in a row at most', () => {
    expect(nextSweepDelay(deadlock, 0)).toBe(SWEEP_RETRY_MS);
    expect(nextSweepDelay(lockWait, 1)).toBe(SWEEP_RETRY_MS);
    expect(nextSweepDelay(deadlock, SWEEP_QUICK_RETRIES - 1)).toBe(SWEEP_RETRY_MS);
    expect(nextSweepDelay(deadlock, SWEEP_QUICK_RETRIES)).toBe(SWEEP_EVERY_MS);
  });
});

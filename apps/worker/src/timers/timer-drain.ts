import type { TimerHead } from '@gridflow/domain';
import type { FireBatcher } from './fire-batcher.js';

export interface TimerDrainSource {
  dueHeads(now: Date, limit: number, after?: { dueAt: Date; id: string }): Promise<TimerHead[]>;
  nextDueAfter(now: Date): Promise<Date | null>;
}

export interface TimerDrainOptions {
  /** Least time between two reads of the due rows. */
  pollMs: number;
  /** The drain keeps watching while the next pending row is due within this; after that it waits for a job. */
  lookaheadMs: number;
  /** Rows read per pass. */
  readLimit: number;
  /** The drain reads no more while this many rows wait for a batch. */
  maxWaiting: number;
  /** A row whose firing failed in the drain is left to its own job (and its retries) for this long. */
  failedBackoffMs: number;
  /**
   * While batches are in flight, the drain goes back to the oldest due row at most this often: each time it reads
   * again every row still in flight or waiting (thousands in a burst). With nothing in flight it goes back at once.
   */
  rewindEveryMs: number;
  /** How often the watch looks for rows overdue by `overdueMs` whose jobs did not come (lost with Redis's data). */
  watchEveryMs: number;
  overdueMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const COOL_DOWN_MS = 2_000;

/**
 * Fires due timer rows straight from MySQL, in due order, instead of one row per job. BullMQ hands out one job per
 * Redis round trip, so a burst of thousands of timers due in the same second would queue up behind the job pickup;
 * the rows themselves are in an index by due time. Woken at a slot's start by its shared wake-up job (WakeTimers), by
 * any row's own job, and at boot, the drain reads the pending rows due by now and gives them to the FireBatcher, then
 * keeps reading every `pollMs` while rows keep coming due within `lookaheadMs`, and stops when none do. A wake-up
 * that arrives while the drain runs is not lost: the drain cuts its wait short and reads again from the oldest due
 * row (while batches are in flight, at most every `rewindEveryMs`), and does one more pass before it stops. Each
 * row's own job, due a little after the row, stays the guarantee: it answers from the batcher's memory (or, in
 * another worker, with `not-pending` after a read) for a row the drain fired, and fires a row the drain missed or
 * could not fire.
 *
 * The watch (`watch()`) covers the case no job wakes the drain: Redis lost the delayed jobs (a restart without
 * persistence, a flush). Every `watchEveryMs` it looks for a pending row overdue by `overdueMs` and drains; the
 * sweeper puts the jobs back later.
 */
export class TimerDrain {
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly backoff = new Map<string, number>();
  private watchTimer: NodeJS.Timeout | null = null;
  private watching: Promise<void> | null = null;
  /** After a pass that failed (the database away), no new pass before this: one warning per cool-down, not per job. */
  private coolUntil = 0;
  /** A wake-up came while the loop ran: it reads again from the start before it stops. */
  private again = false;
  /** When the loop last went back to the oldest due row. */
  private rewoundAt = 0;
  /** Ends the loop's current wait early (set while it waits). */
  private interrupt: (() => void) | null = null;

  constructor(
    private readonly source: TimerDrainSource,
    private readonly batcher: FireBatcher,
    private readonly opts: TimerDrainOptions,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /** Starts draining unless it already runs. */
  kick(): void {
    if (this.stopped || Date.now() < this.coolUntil) return;
    if (this.running) {
      // rows written or come due since the loop last looked: it looks again (not before `pollMs` after its last read)
      this.again = true;
      this.interrupt?.();
      return;
    }
    this.again = false;
    this.running = this.loop()
      .catch((e: unknown) => {
        this.coolUntil = Date.now() + COOL_DOWN_MS;
        this.onError(e);
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** Starts the watch for overdue rows (stopped by `stop()`). */
  watch(): void {
    if (this.watchTimer || this.stopped) return;
    this.watchTimer = setInterval(() => {
      if (this.running || this.watching || this.stopped) return;
      const now = Date.now();
      this.watching = this.source
        .dueHeads(new Date(now - this.opts.overdueMs), 100)
        .then((rows) => {
          if (rows.some((r) => (this.backoff.get(r.id) ?? 0) <= now)) this.kick();
        })
        .catch(() => undefined) // the database is away: the next look tries again
        .finally(() => {
          this.watching = null;
        });
    }, this.opts.watchEveryMs);
    this.watchTimer.unref();
  }

  get active(): boolean {
    return this.running !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.interrupt?.();
    await Promise.all([this.running, this.watching]);
  }

  private async loop(): Promise<void> {
    let cursor: { dueAt: Date; id: string } | undefined;
    while (!this.stopped) {
      const started = Date.now();
      const sentAt = performance.now();
      const heads = await this.source.dueHeads(new Date(started), this.opts.readLimit, cursor);
      for (const h of heads) {
        if ((this.backoff.get(h.id) ?? 0) > started || this.batcher.has(h.id)) continue;
        this.backoff.delete(h.id);
        this.batcher
          .submit(h.id, h, sentAt)
          .catch(() => this.backoff.set(h.id, Date.now() + this.opts.failedBackoffMs));
      }
      const last = heads[heads.length - 1];
      if (last) cursor = { dueAt: new Date(last.due_at), id: last.id };
      if (heads.length < this.opts.readLimit) {
        // caught up with what is due: go on while more is about to come due, else leave it to the next job
        const next = await this.source.nextDueAfter(new Date(started));
        if (!next || next.getTime() - Date.now() > this.opts.lookaheadMs) {
          if (!this.again || this.stopped) return;
        } else {
          await this.wait(next.getTime() - Date.now());
        }
        await sleep(Math.max(0, this.opts.pollMs - (Date.now() - started)));
        // after a wake-up, or with nothing in flight, look from the start again: rows behind the cursor (written
        // late, due earlier than the row waited for, back from a back-off) are not left to their jobs. While
        // batches are in flight that re-reads every row they hold, so a wake-up then waits for `rewindEveryMs`
        // (the loop keeps reading from the cursor meanwhile)
        const now = Date.now();
        if (this.batcher.idle || (this.again && now - this.rewoundAt >= this.opts.rewindEveryMs)) {
          cursor = undefined;
          this.again = false;
          this.rewoundAt = now;
        }
      }
      await this.batcher.whenWaitingBelow(this.opts.maxWaiting);
      if (this.backoff.size > 10_000) this.forgetExpired();
    }
  }

  /** Waits `ms`, or less when a wake-up comes meanwhile. */
  private wait(ms: number): Promise<void> {
    if (ms <= 0 || this.again) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.interrupt = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.interrupt = done;
    });
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [id, until] of this.backoff) if (until <= now) this.backoff.delete(id);
  }
}

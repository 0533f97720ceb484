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
  /** How often the watch looks for rows overdue by `overdueMs` whose jobs did not come (lost with Redis's data). */
  watchEveryMs: number;
  overdueMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const COOL_DOWN_MS = 2_000;

/**
 * Fires due timer rows straight from MySQL once a timer job has woken the worker, instead of waiting for each row's
 * own job. BullMQ hands out one job per Redis round trip, so a burst of thousands of timers due in the same second
 * queues up behind the job pickup; the rows themselves are in an index by due time. Woken by any timer job (and at
 * boot), the drain reads the pending rows due by now in due order and gives them to the FireBatcher, then keeps
 * reading every `pollMs` while rows keep coming due within `lookaheadMs`, and stops when none do. The jobs stay the
 * wake-up and the guarantee: a row the drain fired answers its job from the batcher's memory (or, in another worker,
 * with `not-pending` after a read), and a row the drain missed or could not fire is fired by its job as before.
 *
 * The watch (`watch()`) covers the one case no job wakes the drain: Redis lost the delayed jobs (a restart without
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

  constructor(
    private readonly source: TimerDrainSource,
    private readonly batcher: FireBatcher,
    private readonly opts: TimerDrainOptions,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /** Starts draining unless it already runs. */
  kick(): void {
    if (this.running || this.stopped || Date.now() < this.coolUntil) return;
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
    await Promise.all([this.running, this.watching]);
  }

  private async loop(): Promise<void> {
    let cursor: { dueAt: Date; id: string } | undefined;
    while (!this.stopped) {
      const started = Date.now();
      const heads = await this.source.dueHeads(new Date(started), this.opts.readLimit, cursor);
      for (const h of heads) {
        if ((this.backoff.get(h.id) ?? 0) > started || this.batcher.has(h.id)) continue;
        this.backoff.delete(h.id);
        this.batcher.submit(h.id, h).catch(() => this.backoff.set(h.id, Date.now() + this.opts.failedBackoffMs));
      }
      const last = heads[heads.length - 1];
      if (last) cursor = { dueAt: new Date(last.due_at), id: last.id };
      if (heads.length < this.opts.readLimit) {
        // caught up with what is due: go on while more is about to come due, else leave it to the next job
        const next = await this.source.nextDueAfter(new Date(started));
        if (!next || next.getTime() - Date.now() > this.opts.lookaheadMs) return;
        await sleep(Math.max(this.opts.pollMs - (Date.now() - started), next.getTime() - Date.now(), 0));
        // with nothing in flight, look from the start again: rows behind the cursor (committed late, back from a
        // back-off) are not left to their jobs while the drain keeps running
        if (this.batcher.idle) cursor = undefined;
      }
      await this.batcher.whenWaitingBelow(this.opts.maxWaiting);
      if (this.backoff.size > 10_000) this.forgetExpired();
    }
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [id, until] of this.backoff) if (until <= now) this.backoff.delete(id);
  }
}

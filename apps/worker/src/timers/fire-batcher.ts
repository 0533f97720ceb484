import { isDependencyUnavailable } from '@gridflow/common';
import type { FireOutcome, TimerHead } from '@gridflow/domain';

export interface FireBatcherOptions {
  /** Most rows per batch. */
  maxSize: number;
  /** Most batches in flight at once; rows arriving meanwhile wait and go together in the next batch. */
  maxInFlight: number;
  /** How many settled outcomes to remember (oldest forgotten first); 0 remembers none. */
  remember?: number;
}

type FireMany = (ids: string[], known: ReadonlyMap<string, TimerHead>) => Promise<Map<string, FireOutcome>>;

interface Entry {
  id: string;
  head?: TimerHead;
  promise: Promise<FireOutcome>;
  resolve: (o: FireOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers the timer rows that jobs running side by side (and the due-row drain) ask to fire into `fireMany` calls,
 * group-commit style: a row goes out at once (with whatever else arrived in the same turn of the event loop) while
 * fewer than `maxInFlight` batches are running; otherwise it waits for one to finish and leaves with everything that
 * queued up meanwhile. A lone timer is fired without delay, and a burst of timers due in the same second costs a few
 * large transactions instead of one each. When a batch fails as a whole, its rows are retried one by one, so one bad
 * row fails only its own job.
 *
 * A row asked for again while it waits or is in flight shares that firing; a row whose firing settled for good
 * (fired, cancelled, not pending, missing — states a row never leaves) is answered from memory, so the job of a row
 * the drain already fired costs no database round trip, nor does a drain read that saw the row before that firing
 * committed.
 */
export class FireBatcher {
  private waiting: Entry[] = [];
  private readonly known = new Map<string, Entry>();
  private readonly settled = new Map<string, { outcome: FireOutcome; at: number }>();
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: { below: number; resolve: () => void }[] = [];

  constructor(
    private readonly fireMany: FireMany,
    private readonly opts: FireBatcherOptions,
  ) {}

  /**
   * Fires a row (or joins its firing). `head` is the row as the caller just read it, sparing the batch a read;
   * `readAt` is when that read was sent (`performance.now()`: a monotonic clock, unlike the wall clock).
   */
  submit(id: string, head?: TimerHead, readAt?: number): Promise<FireOutcome> {
    const done = this.settled.get(id);
    if (done) {
      // a row the caller read as pending after this worker's firing of it had settled is fired again, whatever this
      // worker remembers (a database restored to an earlier point, a row reset by an operator); a read sent before
      // that may simply predate the firing's commit (the drain reads while batches are in flight), so it is answered
      // from memory
      const reset = head?.status === 'pending' && (readAt === undefined || readAt > done.at);
      if (!reset) return Promise.resolve(done.outcome);
      this.settled.delete(id);
    }
    const existing = this.known.get(id);
    if (existing) return existing.promise;
    let resolve!: (o: FireOutcome) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<FireOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = { id, head, promise, resolve, reject };
    this.known.set(id, entry);
    this.waiting.push(entry);
    this.schedule();
    return promise;
  }

  /** No row waits and no batch runs. */
  get idle(): boolean {
    return !this.waiting.length && !this.inFlight;
  }

  /** Whether a row waits for a batch or is in one. */
  has(id: string): boolean {
    return this.known.has(id);
  }

  /** Rows waiting for a batch, and batches running (for tests and diagnostics). */
  get load(): { waiting: number; inFlight: number } {
    return { waiting: this.waiting.length, inFlight: this.inFlight };
  }

  /** Resolves once fewer than `below` rows wait for a batch (backpressure for the drain). */
  whenWaitingBelow(below: number): Promise<void> {
    if (this.waiting.length < below) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ below, resolve }));
  }

  /** Resolves once no row waits and no batch runs, or after `maxMs`. */
  async whenIdle(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while ((this.waiting.length || this.inFlight) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight) return;
    this.scheduled = true;
    // the rest of this turn's submissions join the batch
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length && this.inFlight < this.opts.maxInFlight) {
      const batch = this.waiting.splice(0, this.opts.maxSize);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.waiting.length) this.schedule();
        this.idleWaiters = this.idleWaiters.filter((w) => {
          if (this.waiting.length >= w.below) return true;
          w.resolve();
          return false;
        });
      });
    }
  }

  private async run(batch: Entry[]): Promise<void> {
    const heads = new Map(batch.flatMap((e) => (e.head ? [[e.id, e.head] as const] : [])));
    try {
      const outcomes = await this.fireMany(
        batch.map((e) => e.id),
        heads,
      );
      for (const e of batch) this.settle(e, outcomes);
    } catch (err) {
      // one row at a time only helps when a row is at fault; with the database away every row would wait its turn
      if (batch.length === 1 || isDependencyUnavailable(err)) {
        for (const e of batch) this.fail(e, err);
        return;
      }
      for (const e of batch) {
        try {
          this.settle(e, await this.fireMany([e.id], heads));
        } catch (one) {
          this.fail(e, one);
        }
      }
    }
  }

  private settle(e: Entry, outcomes: Map<string, FireOutcome>): void {
    this.known.delete(e.id);
    const o = outcomes.get(e.id);
    if (!o) return e.reject(new Error(`timer ${e.id} was not fired by its batch`));
    if (o.kind !== 'not-due') this.remember(e.id, o);
    e.resolve(o);
  }

  private fail(e: Entry, err: unknown): void {
    this.known.delete(e.id);
    e.reject(err);
  }

  private remember(id: string, o: FireOutcome): void {
    const max = this.opts.remember ?? 0;
    if (max <= 0) return;
    this.settled.set(id, { outcome: o, at: performance.now() });
    if (this.settled.size > max) this.settled.delete(this.settled.keys().next().value as string);
  }
}

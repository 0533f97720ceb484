import type { FireOutcome } from '@gridflow/domain';

export interface FireBatcherOptions {
  /** Most rows per batch. */
  maxSize: number;
  /** Most batches in flight at once; rows arriving meanwhile wait and go together in the next batch. */
  maxInFlight: number;
}

interface Waiting {
  id: string;
  resolve: (o: FireOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers the timer rows that jobs running side by side ask to fire into `fireMany` calls, group-commit style: a
 * row goes out at once (with whatever else arrived in the same turn of the event loop) while fewer than
 * `maxInFlight` batches are running; otherwise it waits for one to finish and leaves with everything that queued up
 * meanwhile. A lone timer is fired without delay, and a burst of timers due in the same second costs a few large
 * transactions instead of one each. When a batch fails as a whole, its rows are retried one by one, so one bad row
 * fails only its own job.
 */
export class FireBatcher {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly fireMany: (ids: string[]) => Promise<Map<string, FireOutcome>>,
    private readonly opts: FireBatcherOptions,
  ) {}

  submit(id: string): Promise<FireOutcome> {
    return new Promise<FireOutcome>((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      this.schedule();
    });
  }

  /** Rows waiting for a batch, and batches running (for tests and diagnostics). */
  get load(): { waiting: number; inFlight: number } {
    return { waiting: this.waiting.length, inFlight: this.inFlight };
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
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.fireMany(batch.map((w) => w.id));
      for (const w of batch) settle(w, outcomes);
    } catch (e) {
      if (batch.length === 1) return batch[0].reject(e);
      for (const w of batch) {
        try {
          settle(w, await this.fireMany([w.id]));
        } catch (err) {
          w.reject(err);
        }
      }
    }
  }
}

function settle(w: Waiting, outcomes: Map<string, FireOutcome>): void {
  const o = outcomes.get(w.id);
  if (o) w.resolve(o);
  else w.reject(new Error(`timer ${w.id} was not fired by its batch`));
}

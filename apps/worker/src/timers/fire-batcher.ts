import type { FireOutcome } from '@gridflow/domain';

export interface FireBatcherOptions {
  /** Most rows per batch. */
  maxSize: number;
  /** How long the first row of a batch waits for company. */
  maxWaitMs: number;
}

interface Waiting {
  id: string;
  resolve: (o: FireOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers the timer rows that jobs running side by side ask to fire into one `fireMany` call (a few milliseconds'
 * wait at most), so a burst of timers due in the same second costs a few transactions instead of one each. When a
 * batch fails as a whole, its rows are retried one by one, so one bad row fails only its own job.
 */
export class FireBatcher {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly fireMany: (ids: string[]) => Promise<Map<string, FireOutcome>>,
    private readonly opts: FireBatcherOptions,
  ) {}

  submit(id: string): Promise<FireOutcome> {
    return new Promise<FireOutcome>((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      if (this.waiting.length >= this.opts.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.waiting.splice(0, this.opts.maxSize);
    if (this.waiting.length) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    if (batch.length) void this.run(batch);
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

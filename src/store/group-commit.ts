/**
 * Group commit: writes that arrive while a batch is being committed wait and go together
 * in the next batch, so many messages share one transaction (and one fsync). Batches run
 * one at a time, in submission order, so writes to a room become durable in seq order.
 */
export interface BatchOutcome {
  /** One entry per op: undefined when it committed, otherwise why it did not. */
  failures: Array<Error | undefined>;
}

export type CommitBatch<Op> = (ops: readonly Op[]) => Promise<BatchOutcome>;

export interface GroupCommitStats {
  batches: number;
  ops: number;
  largestBatch: number;
  lastBatchMs: number;
}

interface Pending<Op> {
  op: Op;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class GroupCommitter<Op> {
  #queue: Pending<Op>[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  readonly stats: GroupCommitStats = { batches: 0, ops: 0, largestBatch: 0, lastBatchMs: 0 };
  /** Told about every batch once it has committed (metrics); once a batch, never per op. */
  observer: ((size: number, commitMs: number, failed: number) => void) | undefined;

  constructor(
    private readonly commit: CommitBatch<Op>,
    private readonly maxBatch = 1000,
  ) {}

  /** Resolves once the op is durable; rejects with the reason it was not written. */
  submit(op: Op): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      // Let the rest of this turn's writes join the batch before committing.
      if (this.#running === undefined) this.#running = this.#drainSoon();
    });
  }

  /** Waits for every submitted op, then refuses new ones. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  async flush(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #drainSoon(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        const started = performance.now();
        let outcome: BatchOutcome;
        try {
          outcome = await this.commit(batch.map((p) => p.op));
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          outcome = { failures: batch.map(() => failure) };
        }
        this.stats.batches++;
        this.stats.ops += batch.length;
        this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
        this.stats.lastBatchMs = performance.now() - started;
        let failed = 0;
        batch.forEach((pending, i) => {
          const failure = outcome.failures[i];
          if (failure === undefined) pending.resolve();
          else {
            failed++;
            pending.reject(failure);
          }
        });
        this.observer?.(batch.length, this.stats.lastBatchMs, failed);
      }
    } finally {
      this.#running = undefined;
    }
  }
}

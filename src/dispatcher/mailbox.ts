/** What a job may return: nothing, or a promise the actor waits for before its next job. */
export type JobResult = void | PromiseLike<unknown>;
export type Job = () => JobResult;
export type StatefulJob<S> = (state: S) => JobResult;

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * One actor's queue of jobs. Every entry is a (fn, state) pair, a plain job's state being
 * undefined, so running any job is the same `fn(state)`: the closure-free variant costs the
 * common path no branch. A growable ring buffer with each pair in two adjacent slots, which
 * avoids an object per entry and `Array.prototype.shift`'s O(n) re-indexing.
 */
export class Mailbox {
  // Starts small: most actors (one per connection) rarely hold more than a few jobs.
  #slots = new Array<unknown>(16);
  /** Slot of the oldest entry's fn. Always even, in a power-of-two array: a pair never wraps. */
  #head = 0;
  /** Entries, not slots. */
  #size = 0;
  #mask = 15;

  get length(): number {
    return this.#size;
  }

  push<S>(fn: StatefulJob<S>, state: S): void {
    if (2 * this.#size === this.#slots.length) this.#grow();
    const tail = (this.#head + 2 * this.#size) & this.#mask;
    this.#slots[tail] = fn;
    this.#slots[tail + 1] = state;
    this.#size++;
  }

  /**
   * Takes the oldest entry off and runs it, returning what it returned; a throw propagates
   * with the entry already gone. The caller checks `length` first.
   */
  runNext(): JobResult {
    const slots = this.#slots;
    const head = this.#head;
    const fn = slots[head] as StatefulJob<unknown>;
    const state = slots[head + 1];
    // Let the job and its state be collected once run, however long the actor lives.
    slots[head] = undefined;
    slots[head + 1] = undefined;
    this.#head = (head + 2) & this.#mask;
    this.#size--;
    return fn(state);
  }

  #grow(): void {
    const old = this.#slots;
    const next = new Array<unknown>(old.length * 2);
    const used = 2 * this.#size;
    for (let i = 0; i < used; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#slots = next;
    this.#head = 0;
    this.#mask = next.length - 1;
  }
}

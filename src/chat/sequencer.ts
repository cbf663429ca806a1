import { BusyError } from '../contract/errors.js';

/**
 * Handles one connection's events one at a time, in arrival order, even when handling is
 * async (the seed's Sequencer). Bounded: past `maxPending` waiting events, new ones are
 * refused with BUSY instead of piling up.
 */
const SETTLED: Promise<unknown> = Promise.resolve();

export class Sequencer {
  #tail: Promise<unknown> = SETTLED;
  #pending = 0;

  constructor(private readonly maxPending: number) {}

  run<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.#pending >= this.maxPending) {
      return Promise.reject(new BusyError('too many requests in flight on this connection'));
    }
    this.#pending++;
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => this.#pending--,
      () => this.#pending--,
    );
    return result;
  }
}

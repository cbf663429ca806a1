// The global `performance` (not perf_hooks') so that fake timers in tests control it.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ActorCell } from './cell.js';
import { Deque } from './deque.js';
import { isThenable, type JobResult } from './mailbox.js';
import { onStack, type ReadyQueue } from './mailboxes.js';

export interface LoopOptions {
  /** Worker loops: how many actors may be inside an async job at once. */
  workers: number;
  /** Most jobs one actor runs before the loop moves on to the next ready actor. */
  sliceJobs: number;
  /** Most milliseconds one actor runs before the loop moves on. */
  sliceMs: number;
  /** Longest the loops keep the thread before yielding to the event loop (socket I/O, timers). */
  yieldEveryMs: number;
  /** Restarts of one crashed loop before its slot is reported down. */
  maxLoopRestarts: number;
  /** First restart delay; doubles with each restart of the same slot. */
  restartBackoffMs: number;
  /** A loop that ran this long before crashing starts its back-off afresh. */
  restartResetMs: number;
}

export interface LoopHooks {
  /** A job threw or its promise rejected. The actor goes on with its next job. */
  onJobError?: (error: unknown, actorName: string) => void;
  /** A worker loop crashed and will restart after `delayMs`. */
  onLoopCrash?: (slot: number, error: unknown, delayMs: number) => void;
  /** A worker loop crashed past its restart limit and stays down. */
  onLoopDown?: (slot: number, error: unknown) => void;
}

export interface LoopStats {
  loopsUp: number;
  loopsDown: number;
  loopRestarts: number;
  jobsExecuted: number;
  jobsFailed: number;
  runQueueLength: number;
}

interface LoopSlot {
  readonly index: number;
  current: ActorCell | undefined;
  up: boolean;
  down: boolean;
  restarts: number;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * N worker loops over a run queue of ready actors. Each turn a loop first lets `beforeTurn`
 * move due delayed jobs into mailboxes, then runs a bounded slice of the next ready actor's
 * mailbox. A loop that crashes is restarted with exponential back-off, up to a limit.
 */
export class WorkerLoops implements ReadyQueue {
  readonly #options: LoopOptions;
  readonly #hooks: LoopHooks;
  readonly #beforeTurn: () => void;
  readonly #runQueue = new Deque<ActorCell>(64);
  readonly #idleLoops: Array<() => void> = [];
  readonly #slots: LoopSlot[] = [];
  #drainWaiters: Array<() => void> = [];
  #started = false;
  #stopping = false;
  #lastYield = 0;
  #executed = 0;
  #failed = 0;
  #restarts = 0;

  constructor(options: LoopOptions, hooks: LoopHooks, beforeTurn: () => void) {
    this.#options = options;
    this.#hooks = hooks;
    this.#beforeTurn = beforeTurn;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Started and not stopped: only then can mailboxes drain. */
  get running(): boolean {
    return this.#started && !this.#stopping;
  }

  /** Ready actors queued before start wait for the loops. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#lastYield = performance.now();
    for (let i = 0; i < this.#options.workers; i++) {
      const slot: LoopSlot = {
        index: i,
        current: undefined,
        up: false,
        down: false,
        restarts: 0,
        startedAt: 0,
        restartTimer: undefined,
      };
      this.#slots.push(slot);
      this.#startLoop(slot);
    }
  }

  /** Each loop ends after its current slice; crashed ones are not restarted. */
  stop(): void {
    this.#stopping = true;
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    for (const wake of this.#idleLoops.splice(0)) wake();
  }

  makeReady(cell: ActorCell): void {
    this.#runQueue.push(cell);
    const wake = this.#idleLoops.pop();
    if (wake !== undefined) wake();
  }

  /** Resolves once every mailbox is empty and no job runs. */
  drain(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Every actor with jobs: in the run queue or held by a loop. */
  activeCells(): ActorCell[] {
    const active = [...this.#runQueue];
    for (const slot of this.#slots) if (slot.current) active.push(slot.current);
    return active;
  }

  stats(): LoopStats {
    return {
      loopsUp: this.#slots.filter((s) => s.up).length,
      loopsDown: this.#slots.filter((s) => s.down).length,
      loopRestarts: this.#restarts,
      jobsExecuted: this.#executed,
      jobsFailed: this.#failed,
      runQueueLength: this.#runQueue.length,
    };
  }

  #startLoop(slot: LoopSlot): void {
    slot.up = true;
    slot.startedAt = performance.now();
    slot.restartTimer = undefined;
    this.#loop(slot).then(
      () => {
        slot.up = false;
      },
      (error: unknown) => this.#onLoopCrash(slot, error),
    );
  }

  async #loop(slot: LoopSlot): Promise<void> {
    while (!this.#stopping) {
      this.#beforeTurn();
      const cell = this.#runQueue.shift();
      if (cell === undefined) {
        await new Promise<void>((resolve) => this.#idleLoops.push(resolve));
        // The thread was free while every loop waited: a fresh yield budget.
        this.#lastYield = performance.now();
        continue;
      }
      slot.current = cell;
      const pending = this.#runSlice(cell);
      if (pending !== undefined) await pending;
      slot.current = undefined;
      if (cell.mailbox.length > 0) this.#runQueue.push(cell);
      else {
        cell.scheduled = false;
        this.#notifyIfDrained();
      }
      if (performance.now() - this.#lastYield >= this.#options.yieldEveryMs) {
        await yieldToEventLoop();
        this.#lastYield = performance.now();
      }
    }
    slot.up = false;
  }

  /**
   * Runs jobs of one actor until its mailbox is empty, its slice is used, or a job turns
   * out to be async. Counters are settled once per slice: this is the hot path.
   */
  #runSlice(cell: ActorCell): Promise<void> | undefined {
    const mailbox = cell.mailbox;
    const { sliceJobs, sliceMs } = this.#options;
    const start = performance.now();
    let ran = 0;
    let pending: PromiseLike<unknown> | undefined;
    onStack.cell = cell;
    try {
      while (mailbox.length > 0 && ran < sliceJobs) {
        if ((ran & 63) === 63 && performance.now() - start >= sliceMs) break;
        ran++;
        let result: JobResult;
        try {
          result = mailbox.runNext();
        } catch (error) {
          this.#failed++;
          onStack.cell = undefined;
          // A throwing hook is a runtime bug: it crashes the loop, which the supervisor restarts.
          this.#hooks.onJobError?.(error, cell.name);
          onStack.cell = cell;
          continue;
        }
        if (result !== undefined && isThenable(result)) {
          pending = result;
          break;
        }
      }
    } finally {
      onStack.cell = undefined;
      onStack.chain = undefined;
      this.#executed += pending === undefined ? ran : ran - 1;
    }
    return pending === undefined ? undefined : this.#settle(cell, pending);
  }

  /** Waits for an async job; the actor's next job starts only after this settles. */
  async #settle(cell: ActorCell, result: PromiseLike<unknown>): Promise<void> {
    try {
      await result;
    } catch (error) {
      this.#failed++;
      this.#executed++;
      this.#hooks.onJobError?.(error, cell.name);
      return;
    }
    this.#executed++;
  }

  /** Every actor with jobs is in the run queue or held by a loop: none of either means idle. */
  #idle(): boolean {
    if (this.#runQueue.length > 0) return false;
    for (const slot of this.#slots) if (slot.current !== undefined) return false;
    return true;
  }

  #notifyIfDrained(): void {
    if (this.#drainWaiters.length === 0 || !this.#idle()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #onLoopCrash(slot: LoopSlot, error: unknown): void {
    slot.up = false;
    const cell = slot.current;
    slot.current = undefined;
    // The crashed slice's actor must not be lost: its remaining jobs go back in the queue.
    if (cell !== undefined) {
      cell.scheduled = false;
      if (cell.mailbox.length > 0) {
        cell.scheduled = true;
        this.makeReady(cell);
      }
    }
    if (this.#stopping) return;
    const now = performance.now();
    if (now - slot.startedAt >= this.#options.restartResetMs) slot.restarts = 0;
    if (slot.restarts >= this.#options.maxLoopRestarts) {
      slot.down = true;
      this.#hooks.onLoopDown?.(slot.index, error);
      return;
    }
    const delayMs = this.#options.restartBackoffMs * 2 ** slot.restarts;
    slot.restarts++;
    this.#restarts++;
    this.#hooks.onLoopCrash?.(slot.index, error, delayMs);
    slot.restartTimer = setTimeout(() => this.#startLoop(slot), delayMs);
    slot.restartTimer.unref();
  }
}

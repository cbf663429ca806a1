// The global `performance` (not perf_hooks') so that fake timers in tests control it.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ActorCell, type MailboxOptions } from './cell.js';
import {
  DispatcherError,
  MailboxFullError,
  NotAcceptingError,
  ReentrantAskError,
} from './errors.js';
import { Deque } from './deque.js';
import { isThenable, type Job, type JobResult, type StatefulJob } from './mailbox.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';

const noop = (): void => undefined;
export interface DispatcherOptions {
  /** Worker loops: how many actors may be inside an async job at once. */
  workers: number;
  /** Most jobs one actor runs before the loop moves on to the next ready actor. */
  sliceJobs: number;
  /** Most milliseconds one actor runs before the loop moves on. */
  sliceMs: number;
  /** Longest the loops keep the thread before yielding to the event loop (socket I/O, timers). */
  yieldEveryMs: number;
  /** Mailbox capacity of actors that do not set their own. */
  defaultMailboxCapacity: number;
  /** Most due delayed jobs moved into mailboxes per loop turn. */
  maxDueTimersPerTurn: number;
  /** Restarts of one crashed loop before its slot is reported down. */
  maxLoopRestarts: number;
  /** First restart delay; doubles with each restart of the same slot. */
  restartBackoffMs: number;
  /** A loop that ran this long before crashing starts its back-off afresh. */
  restartResetMs: number;
  /** Whether to sample event-loop delay (perf_hooks) for the metrics. */
  monitorEventLoop: boolean;
}

export interface DispatcherHooks {
  /** A job threw or its promise rejected. The actor goes on with its next job. */
  onJobError?: (error: unknown, actorName: string) => void;
  /** A full mailbox with the 'reject' policy refused a job. */
  onJobDropped?: (actorName: string) => void;
  /** A worker loop crashed and will restart after `delayMs`. */
  onLoopCrash?: (slot: number, error: unknown, delayMs: number) => void;
  /** A worker loop crashed past its restart limit and stays down. */
  onLoopDown?: (slot: number, error: unknown) => void;
}

export interface MailboxDepth {
  actor: string;
  depth: number;
}

export interface DispatcherMetrics {
  workers: number;
  loopsUp: number;
  loopsDown: number;
  loopRestarts: number;
  jobsExecuted: number;
  jobsFailed: number;
  jobsDropped: number;
  /** Jobs waiting in mailboxes, all actors. */
  jobsQueued: number;
  delayedPending: number;
  runQueueLength: number;
  /** The deepest mailboxes, deepest first. */
  deepestMailboxes: MailboxDepth[];
  eventLoopDelayMs?: { p50: number; p99: number; max: number };
  accepting: boolean;
}

export interface CloseResult {
  drained: boolean;
  /** Jobs still queued or running when the wait ended. */
  remaining: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  workers: 4,
  sliceJobs: 256,
  sliceMs: 2,
  yieldEveryMs: 5,
  defaultMailboxCapacity: 10_000,
  maxDueTimersPerTurn: 256,
  maxLoopRestarts: 5,
  restartBackoffMs: 1_000,
  restartResetMs: 60_000,
  monitorEventLoop: true,
};

/** A cancellable delayed job. Cancelling one that already fired does nothing. */
export interface TimerHandle {
  cancel(): void;
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

// The actor whose job is on the stack right now, and the chain of actors waiting on it
// through asks. Node runs one job at a time, so plain module state is exact for the
// synchronous part of a job; that is where re-entrant asks are detected.
let currentCell: ActorCell | undefined;
let currentChain: readonly ActorCell[] | undefined;

const cancelledHandle: TimerHandle = { cancel: () => undefined };

/**
 * The actor runtime: N worker loops take ready actors from a run queue and run a bounded
 * slice of each one's mailbox. Framework-free; DispatcherService wraps it for Nest.
 */
export class Dispatcher {
  readonly options: DispatcherOptions;
  readonly #hooks: DispatcherHooks;
  readonly #runQueue = new Deque<ActorCell>(64);
  readonly #idleLoops: Array<() => void> = [];
  readonly #slots: LoopSlot[] = [];
  readonly #timers = new TimerHeap();
  #timerOrder = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeAt = Infinity;
  #drainWaiters: Array<() => void> = [];
  #started = false;
  #accepting = true;
  #stopping = false;
  #lastYield = 0;
  #delayedPending = 0;
  #executed = 0;
  #failed = 0;
  #dropped = 0;
  #loopRestarts = 0;
  #eventLoopDelay: IntervalHistogram | undefined;

  constructor(options: Partial<DispatcherOptions> = {}, hooks: DispatcherHooks = {}) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
    if (!Number.isInteger(this.options.workers) || this.options.workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${this.options.workers}`);
    }
    this.#hooks = hooks;
  }

  /** Starts the worker loops. Jobs submitted before start wait in their mailboxes. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#lastYield = performance.now();
    if (this.options.monitorEventLoop) {
      this.#eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.#eventLoopDelay.enable();
    }
    for (let i = 0; i < this.options.workers; i++) {
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

  /** Creates the runtime state of an actor; called by the Actor constructor. */
  createCell(name: string, options: MailboxOptions = {}): ActorCell {
    const capacity = options.capacity ?? this.options.defaultMailboxCapacity;
    if (!(capacity >= 1)) throw new RangeError(`mailbox capacity must be >= 1, got ${capacity}`);
    return new ActorCell(name, capacity, options.overflow ?? 'reject', options.onDropped);
  }

  /**
   * Queues a job on the actor. Returns undefined when accepted, otherwise the reason it was
   * refused (full mailbox, shutdown, stopped actor).
   */
  submit(cell: ActorCell, job: Job): DispatcherError | undefined {
    return this.submitWith(cell, job, undefined);
  }

  /** Queues `fn(state)`: the closure-free variant of submit for hot paths. */
  submitWith<S>(cell: ActorCell, fn: StatefulJob<S>, state: S): DispatcherError | undefined {
    // The fast path is inlined by hand: this runs once per message per actor.
    const mailbox = cell.mailbox;
    if (mailbox.length >= cell.capacity || cell.stopped || !this.#accepting) {
      const refused = this.#refuse(cell);
      if (refused !== undefined) return refused;
    }
    mailbox.push(fn, state);
    if (!cell.scheduled) {
      cell.scheduled = true;
      this.#makeReady(cell);
    }
    return undefined;
  }

  /** The slow path of submit: why the job is refused, or undefined if it may go in after all. */
  #refuse(cell: ActorCell): DispatcherError | undefined {
    if (cell.stopped) return new NotAcceptingError(cell.name, 'actor stopped');
    // During shutdown only follow-up work of a running job gets in, so mailboxes can drain.
    if (!this.#accepting && currentCell === undefined) {
      return new NotAcceptingError(cell.name, 'shutting down');
    }
    if (cell.depth >= cell.capacity) {
      this.#dropped++;
      if (cell.overflow === 'reject') {
        cell.onDropped?.(cell.name);
        this.#hooks.onJobDropped?.(cell.name);
      }
      return new MailboxFullError(cell.name, cell.capacity);
    }
    return undefined;
  }

  /**
   * Queues `fn` and resolves with its result once it has run, in mailbox order. From inside
   * a job, asking the same actor or one that waits on it rejects with ReentrantAskError.
   * `detached`: when `fn` returns a promise, the actor does not wait for it.
   */
  ask<T>(cell: ActorCell, fn: () => T | PromiseLike<T>, detached = false): Promise<T> {
    const caller = currentCell;
    const callerChain = currentChain;
    if (caller !== undefined && (caller === cell || callerChain?.includes(cell))) {
      const chain = [...(callerChain ?? []), caller, cell].map((c) => c.name);
      return Promise.reject(new ReentrantAskError(chain));
    }
    const chain = caller === undefined ? undefined : [...(callerChain ?? []), caller];
    return new Promise<T>((resolve, reject) => {
      const refused = this.submit(cell, () => {
        currentChain = chain;
        // An error is the answer, handed to the asker: the job itself did not fail.
        try {
          const result = fn();
          resolve(result);
          // The actor waits for an async answer before its next job, like any async job,
          // unless detached: then the answer settles later and the mailbox moves on.
          return !detached && isThenable(result)
            ? Promise.resolve(result).then(noop, noop)
            : undefined;
        } catch (error) {
          reject(error);
          return undefined;
        } finally {
          currentChain = undefined;
        }
      });
      if (refused) reject(refused);
    });
  }

  /** Queues `job` on the actor after `delayMs`; when due it goes through the mailbox. */
  schedule(cell: ActorCell, delayMs: number, job: Job): TimerHandle {
    if (cell.stopped || !this.#accepting) return cancelledHandle;
    const entry: TimerEntry = {
      due: performance.now() + Math.max(0, delayMs),
      order: this.#timerOrder++,
      cell,
      job,
      cancelled: false,
    };
    this.#timers.push(entry);
    (cell.timers ??= new Set()).add(entry);
    this.#delayedPending++;
    this.#armWakeTimer();
    return {
      cancel: () => {
        if (entry.cancelled || !cell.timers?.delete(entry)) return;
        entry.cancelled = true;
        this.#delayedPending--;
      },
    };
  }

  /** Refuses further jobs and delayed jobs for the actor; queued jobs still run. */
  stopActor(cell: ActorCell): void {
    cell.stopped = true;
    if (cell.timers === undefined) return;
    for (const entry of cell.timers) entry.cancelled = true;
    this.#delayedPending -= cell.timers.size;
    cell.timers.clear();
  }

  /** Resolves once every mailbox is empty and no job runs. */
  drain(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Shutdown: close the gate, cancel delayed jobs, wait up to `timeoutMs` for the mailboxes
   * to drain, then stop the loops.
   */
  async close(timeoutMs = 10_000): Promise<CloseResult> {
    // With no loops running nothing could drain: report at once.
    if (!this.#started || this.#stopping) {
      this.#accepting = false;
      const remaining = this.#queuedJobs();
      return { drained: remaining === 0, remaining };
    }
    this.#accepting = false;
    for (const entry of this.#timers.clear()) {
      entry.cancelled = true;
      entry.cell.timers?.delete(entry);
    }
    this.#delayedPending = 0;
    this.#clearWakeTimer();
    let timeout: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.drain().then(() => true),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    this.#stopping = true;
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    for (const wake of this.#idleLoops.splice(0)) wake();
    this.#eventLoopDelay?.disable();
    return { drained, remaining: this.#queuedJobs() };
  }

  metrics(topN = 5): DispatcherMetrics {
    const active = this.#activeCells();
    let jobsQueued = 0;
    for (const cell of active) jobsQueued += cell.depth;
    const deepestMailboxes = active
      .filter((cell) => cell.depth > 0)
      .sort((a, b) => b.depth - a.depth)
      .slice(0, topN)
      .map((cell) => ({ actor: cell.name, depth: cell.depth }));
    const histogram = this.#eventLoopDelay;
    const toMs = (ns: number): number => Math.round(ns / 1e4) / 100;
    return {
      workers: this.options.workers,
      loopsUp: this.#slots.filter((s) => s.up).length,
      loopsDown: this.#slots.filter((s) => s.down).length,
      loopRestarts: this.#loopRestarts,
      jobsExecuted: this.#executed,
      jobsFailed: this.#failed,
      jobsDropped: this.#dropped,
      jobsQueued,
      delayedPending: this.#delayedPending,
      runQueueLength: this.#runQueue.length,
      deepestMailboxes,
      eventLoopDelayMs:
        histogram && histogram.count > 0
          ? {
              p50: toMs(histogram.percentile(50)),
              p99: toMs(histogram.percentile(99)),
              max: toMs(histogram.max),
            }
          : undefined,
      accepting: this.#accepting,
    };
  }

  // ---- worker loops -------------------------------------------------------------------

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
      const next = this.#timers.peek();
      if (next !== undefined && next.due <= performance.now()) this.#fireDueTimers();
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
      if (performance.now() - this.#lastYield >= this.options.yieldEveryMs) {
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
    const { sliceJobs, sliceMs } = this.options;
    const start = performance.now();
    let ran = 0;
    let pending: PromiseLike<unknown> | undefined;
    currentCell = cell;
    try {
      while (mailbox.length > 0 && ran < sliceJobs) {
        if ((ran & 63) === 63 && performance.now() - start >= sliceMs) break;
        ran++;
        let result: JobResult;
        try {
          result = mailbox.runNext();
        } catch (error) {
          this.#failed++;
          currentCell = undefined;
          // A throwing hook is a runtime bug: it crashes the loop, which the supervisor restarts.
          this.#hooks.onJobError?.(error, cell.name);
          currentCell = cell;
          continue;
        }
        if (result !== undefined && isThenable(result)) {
          pending = result;
          break;
        }
      }
    } finally {
      currentCell = undefined;
      currentChain = undefined;
      this.#finished(pending === undefined ? ran : ran - 1);
    }
    return pending === undefined ? undefined : this.#settle(cell, pending);
  }

  /** Waits for an async job; the actor's next job starts only after this settles. */
  async #settle(cell: ActorCell, result: PromiseLike<unknown>): Promise<void> {
    try {
      await result;
    } catch (error) {
      this.#failed++;
      this.#finished(1);
      this.#hooks.onJobError?.(error, cell.name);
      return;
    }
    this.#finished(1);
  }

  #finished(jobs: number): void {
    this.#executed += jobs;
  }

  /** Every actor with jobs is in the run queue or held by a loop: none of either means idle. */
  #idle(): boolean {
    if (this.#runQueue.length > 0) return false;
    for (const slot of this.#slots) if (slot.current !== undefined) return false;
    return true;
  }

  #activeCells(): ActorCell[] {
    const active = [...this.#runQueue];
    for (const slot of this.#slots) if (slot.current) active.push(slot.current);
    return active;
  }

  #queuedJobs(): number {
    return this.#activeCells().reduce((sum, cell) => sum + cell.depth, 0);
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
    if (cell !== undefined) {
      cell.scheduled = false;
      if (cell.mailbox.length > 0) {
        cell.scheduled = true;
        this.#makeReady(cell);
      }
    }
    if (this.#stopping) return;
    const now = performance.now();
    if (now - slot.startedAt >= this.options.restartResetMs) slot.restarts = 0;
    if (slot.restarts >= this.options.maxLoopRestarts) {
      slot.down = true;
      this.#hooks.onLoopDown?.(slot.index, error);
      return;
    }
    const delayMs = this.options.restartBackoffMs * 2 ** slot.restarts;
    slot.restarts++;
    this.#loopRestarts++;
    this.#hooks.onLoopCrash?.(slot.index, error, delayMs);
    slot.restartTimer = setTimeout(() => this.#startLoop(slot), delayMs);
    slot.restartTimer.unref();
  }

  // ---- run queue ----------------------------------------------------------------------

  #makeReady(cell: ActorCell): void {
    this.#runQueue.push(cell);
    const wake = this.#idleLoops.pop();
    if (wake !== undefined) wake();
  }

  // ---- delayed jobs -------------------------------------------------------------------

  #fireDueTimers(): void {
    const now = performance.now();
    for (let moved = 0; moved < this.options.maxDueTimersPerTurn;) {
      const entry = this.#timers.peek();
      if (entry === undefined || entry.due > now) break;
      this.#timers.pop();
      if (entry.cancelled) continue;
      entry.cancelled = true;
      entry.cell.timers?.delete(entry);
      this.#delayedPending--;
      moved++;
      // Through the mailbox like any job: ordered with the actor's other work.
      const refused = this.submit(entry.cell, entry.job);
      if (refused) this.#hooks.onJobError?.(refused, entry.cell.name);
    }
    this.#armWakeTimer();
  }

  /** One Node timer for the earliest due job wakes the runtime when the loops are idle. */
  #armWakeTimer(): void {
    let top = this.#timers.peek();
    while (top !== undefined && top.cancelled) {
      this.#timers.pop();
      top = this.#timers.peek();
    }
    if (top === undefined) {
      this.#clearWakeTimer();
      return;
    }
    if (this.#wakeTimer !== undefined && this.#wakeAt <= top.due) return;
    this.#clearWakeTimer();
    this.#wakeAt = top.due;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeTimer = undefined;
        this.#wakeAt = Infinity;
        this.#fireDueTimers();
      },
      Math.max(0, Math.ceil(top.due - performance.now())),
    );
    this.#wakeTimer.unref();
  }

  #clearWakeTimer(): void {
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#wakeAt = Infinity;
  }
}

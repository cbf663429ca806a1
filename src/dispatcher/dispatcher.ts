import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ActorCell, MailboxOptions } from './cell.js';
import { DelayedJobs, type TimerHandle } from './delayed-jobs.js';
import type { DispatcherError } from './errors.js';
import type { Job, StatefulJob } from './mailbox.js';
import { Mailboxes, type MailboxHooks } from './mailboxes.js';
import { WorkerLoops, type LoopHooks, type LoopOptions } from './worker-loops.js';

export interface DispatcherOptions extends LoopOptions {
  /** Mailbox capacity of actors that do not set their own. */
  defaultMailboxCapacity: number;
  /** Most due delayed jobs moved into mailboxes per loop turn. */
  maxDueTimersPerTurn: number;
  /** Whether to sample event-loop delay (perf_hooks) for the metrics. */
  monitorEventLoop: boolean;
}

export interface DispatcherHooks extends MailboxHooks, LoopHooks {}

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

/**
 * The actor runtime: N worker loops take ready actors from a run queue and run a bounded
 * slice of each one's mailbox. Framework-free; DispatcherService wraps it for Nest.
 *
 * A facade over three parts that each own one concern: Mailboxes (the gate, submit, ask),
 * WorkerLoops (run queue, slices, supervision) and DelayedJobs (the timer heap). What spans
 * them, start, shutdown and metrics, is here.
 */
export class Dispatcher {
  readonly options: DispatcherOptions;
  readonly #mailboxes: Mailboxes;
  readonly #loops: WorkerLoops;
  readonly #delayed: DelayedJobs;
  #eventLoopDelay: IntervalHistogram | undefined;

  constructor(options: Partial<DispatcherOptions> = {}, hooks: DispatcherHooks = {}) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
    if (!Number.isInteger(this.options.workers) || this.options.workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${this.options.workers}`);
    }
    // Each turn of a loop first moves due delayed jobs into mailboxes, which make actors
    // ready for the loops: the parts are wired in a ring.
    this.#loops = new WorkerLoops(this.options, hooks, () => this.#delayed.fireIfDue());
    this.#mailboxes = new Mailboxes(this.#loops, hooks, this.options.defaultMailboxCapacity);
    this.#delayed = new DelayedJobs(this.#mailboxes, hooks, this.options.maxDueTimersPerTurn);
  }

  /** Starts the worker loops. Jobs submitted before start wait in their mailboxes. */
  start(): void {
    if (this.#loops.started) return;
    if (this.options.monitorEventLoop) {
      this.#eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.#eventLoopDelay.enable();
    }
    this.#loops.start();
  }

  /** Creates the runtime state of an actor; called by the Actor constructor. */
  createCell(name: string, options: MailboxOptions = {}): ActorCell {
    return this.#mailboxes.createCell(name, options);
  }

  /**
   * Queues a job on the actor. Returns undefined when accepted, otherwise the reason it was
   * refused (full mailbox, shutdown, stopped actor).
   */
  submit(cell: ActorCell, job: Job): DispatcherError | undefined {
    return this.#mailboxes.submit(cell, job, undefined);
  }

  /** Queues `fn(state)`: the closure-free variant of submit for hot paths. */
  submitWith<S>(cell: ActorCell, fn: StatefulJob<S>, state: S): DispatcherError | undefined {
    return this.#mailboxes.submit(cell, fn, state);
  }

  /**
   * Queues `fn` and resolves with its result once it has run, in mailbox order. From inside
   * a job, asking the same actor or one that waits on it rejects with ReentrantAskError.
   * `detached`: when `fn` returns a promise, the actor does not wait for it.
   */
  ask<T>(cell: ActorCell, fn: () => T | PromiseLike<T>, detached = false): Promise<T> {
    return this.#mailboxes.ask(cell, fn, detached);
  }

  /** Queues `job` on the actor after `delayMs`; when due it goes through the mailbox. */
  schedule(cell: ActorCell, delayMs: number, job: Job): TimerHandle {
    return this.#delayed.schedule(cell, delayMs, job);
  }

  /** Refuses further jobs and delayed jobs for the actor; queued jobs still run. */
  stopActor(cell: ActorCell): void {
    cell.stopped = true;
    this.#delayed.cancelFor(cell);
  }

  /** Resolves once every mailbox is empty and no job runs. */
  drain(): Promise<void> {
    return this.#loops.drain();
  }

  /**
   * Shutdown: close the gate, cancel delayed jobs, wait up to `timeoutMs` for the mailboxes
   * to drain, then stop the loops.
   */
  async close(timeoutMs = 10_000): Promise<CloseResult> {
    this.#mailboxes.close();
    // With no loops running nothing could drain: report at once.
    if (!this.#loops.running) {
      const remaining = this.#queuedJobs();
      return { drained: remaining === 0, remaining };
    }
    this.#delayed.cancelAll();
    let timeout: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.drain().then(() => true),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    this.#loops.stop();
    this.#eventLoopDelay?.disable();
    return { drained, remaining: this.#queuedJobs() };
  }

  metrics(topN = 5): DispatcherMetrics {
    const active = this.#loops.activeCells();
    let jobsQueued = 0;
    for (const cell of active) jobsQueued += cell.depth;
    const deepestMailboxes = active
      .filter((cell) => cell.depth > 0)
      .sort((a, b) => b.depth - a.depth)
      .slice(0, topN)
      .map((cell) => ({ actor: cell.name, depth: cell.depth }));
    const loops = this.#loops.stats();
    const histogram = this.#eventLoopDelay;
    const toMs = (ns: number): number => Math.round(ns / 1e4) / 100;
    return {
      workers: this.options.workers,
      loopsUp: loops.loopsUp,
      loopsDown: loops.loopsDown,
      loopRestarts: loops.loopRestarts,
      jobsExecuted: loops.jobsExecuted,
      jobsFailed: loops.jobsFailed,
      jobsDropped: this.#mailboxes.dropped,
      jobsQueued,
      delayedPending: this.#delayed.pending,
      runQueueLength: loops.runQueueLength,
      deepestMailboxes,
      eventLoopDelayMs:
        histogram && histogram.count > 0
          ? {
              p50: toMs(histogram.percentile(50)),
              p99: toMs(histogram.percentile(99)),
              max: toMs(histogram.max),
            }
          : undefined,
    };
  }

  #queuedJobs(): number {
    return this.#loops.activeCells().reduce((sum, cell) => sum + cell.depth, 0);
  }
}

import type { ActorCell, MailboxOptions } from './cell.js';
import type { Job, StatefulJob } from './mailbox.js';
import type { TimerHandle } from './delayed-jobs.js';
import type { Dispatcher } from './dispatcher.js';

export interface ActorOptions extends MailboxOptions {
  /** Shown in metrics and error reports, e.g. `room:general`. */
  name: string;
}

/**
 * Base of every actor: state that only its own jobs touch, one job at a time, in queue
 * order (an async job holds the mailbox until its promise settles). Subclasses expose
 * intent methods (`join`, `post`) that only queue; the body lives in a private method.
 *
 * The ask rule: never `ask` your own actor, or an actor that is waiting on you, from inside
 * a job; its answer would queue behind the job that waits for it. Call the private method
 * directly instead. The common case is detected and rejected with ReentrantAskError.
 */
export abstract class Actor {
  readonly name: string;
  readonly #cell: ActorCell;

  protected constructor(
    protected readonly dispatcher: Dispatcher,
    options: ActorOptions,
  ) {
    this.name = options.name;
    this.#cell = dispatcher.createCell(options.name, options);
  }

  /** Jobs waiting in the mailbox. */
  get mailboxDepth(): number {
    return this.#cell.depth;
  }

  get stopped(): boolean {
    return this.#cell.stopped;
  }

  /** Refuses further jobs and cancels delayed ones; jobs already queued still run. */
  stop(): void {
    this.dispatcher.stopActor(this.#cell);
  }

  /** Queues a job. False when refused (full mailbox, shutdown, stopped actor). */
  protected enqueue(job: Job): boolean {
    return this.dispatcher.submit(this.#cell, job) === undefined;
  }

  /** Queues `fn(state)` without allocating a closure: for hot paths. */
  protected enqueueWith<S>(fn: StatefulJob<S>, state: S): boolean {
    return this.dispatcher.submitWith(this.#cell, fn, state) === undefined;
  }

  /** Queues a job and resolves with its result; rejects when refused or when it throws. */
  protected ask<T>(fn: () => T | PromiseLike<T>): Promise<T> {
    return this.dispatcher.ask(this.#cell, fn);
  }

  /**
   * Like ask, but when `fn` returns a promise (a store write, say) the actor goes on with
   * its next job at once; the caller's promise settles when that promise does. For
   * pipelines whose order is fixed by the synchronous part of the job.
   */
  protected answer<T>(fn: () => T | PromiseLike<T>): Promise<T> {
    return this.dispatcher.ask(this.#cell, fn, true);
  }

  /** Queues `job` through the mailbox once `delayMs` has passed. */
  protected enqueueAfter(delayMs: number, job: Job): TimerHandle {
    return this.dispatcher.schedule(this.#cell, delayMs, job);
  }

  /**
   * A heartbeat: runs `job` through the mailbox every `intervalMs`, re-arming itself after
   * each run, until cancelled or the actor stops.
   */
  protected every(intervalMs: number, job: () => void): TimerHandle {
    let handle: TimerHandle;
    let cancelled = false;
    const tick = (): void => {
      if (cancelled || this.stopped) return;
      try {
        job();
      } finally {
        if (!cancelled && !this.stopped) handle = this.enqueueAfter(intervalMs, tick);
      }
    };
    handle = this.enqueueAfter(intervalMs, tick);
    return {
      cancel: () => {
        cancelled = true;
        handle.cancel();
      },
    };
  }
}

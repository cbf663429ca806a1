import { ActorCell, type MailboxOptions } from './cell.js';
import {
  DispatcherError,
  MailboxFullError,
  NotAcceptingError,
  ReentrantAskError,
} from './errors.js';
import { isThenable, type StatefulJob } from './mailbox.js';

export interface MailboxHooks {
  /** A full mailbox with the 'reject' policy refused a job. */
  onJobDropped?: (actorName: string) => void;
}

/** Where an actor goes when its mailbox gets work while it is not scheduled. */
export interface ReadyQueue {
  makeReady(cell: ActorCell): void;
}

/**
 * The actor whose job is on the stack right now, and the chain of actors waiting on it
 * through asks. Node runs one job at a time, so plain module state is exact for the
 * synchronous part of a job; that is where re-entrant asks are detected. The worker loops
 * set `cell` around each slice they run; an ask's job sets `chain` while it runs.
 */
export const onStack: {
  cell: ActorCell | undefined;
  chain: readonly ActorCell[] | undefined;
} = { cell: undefined, chain: undefined };

const noop = (): void => undefined;

/**
 * The way into every actor's mailbox: the shutdown gate, bounded capacity with its overflow
 * policies, and ask (a job whose result comes back as a promise) with its re-entrancy check.
 */
export class Mailboxes {
  readonly #ready: ReadyQueue;
  readonly #hooks: MailboxHooks;
  readonly #defaultCapacity: number;
  #accepting = true;
  #dropped = 0;

  constructor(ready: ReadyQueue, hooks: MailboxHooks, defaultCapacity: number) {
    this.#ready = ready;
    this.#hooks = hooks;
    this.#defaultCapacity = defaultCapacity;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Jobs refused by full mailboxes, whatever their policy. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Shuts the gate for good: only follow-up work of a running job gets in from now on. */
  close(): void {
    this.#accepting = false;
  }

  createCell(name: string, options: MailboxOptions = {}): ActorCell {
    const capacity = options.capacity ?? this.#defaultCapacity;
    if (!(capacity >= 1)) throw new RangeError(`mailbox capacity must be >= 1, got ${capacity}`);
    return new ActorCell(name, capacity, options.overflow ?? 'reject', options.onDropped);
  }

  /**
   * Queues `fn(state)` on the actor; a plain job passes state undefined. Returns undefined
   * when accepted, otherwise the reason it was refused (full mailbox, shutdown, stopped actor).
   */
  submit<S>(cell: ActorCell, fn: StatefulJob<S>, state: S): DispatcherError | undefined {
    // Runs once per message per actor: one combined test keeps every refusal off this path.
    const mailbox = cell.mailbox;
    if (mailbox.length >= cell.capacity || cell.stopped || !this.#accepting) {
      const refused = this.#refuse(cell);
      if (refused !== undefined) return refused;
    }
    mailbox.push(fn, state);
    if (!cell.scheduled) {
      cell.scheduled = true;
      this.#ready.makeReady(cell);
    }
    return undefined;
  }

  /** The slow path of submit: why the job is refused, or undefined if it may go in after all. */
  #refuse(cell: ActorCell): DispatcherError | undefined {
    if (cell.stopped) return new NotAcceptingError(cell.name, 'actor stopped');
    // During shutdown only follow-up work of a running job gets in, so mailboxes can drain.
    if (!this.#accepting && onStack.cell === undefined) {
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
    const caller = onStack.cell;
    const callerChain = onStack.chain;
    if (caller !== undefined && (caller === cell || callerChain?.includes(cell))) {
      const chain = [...(callerChain ?? []), caller, cell].map((c) => c.name);
      return Promise.reject(new ReentrantAskError(chain));
    }
    const chain = caller === undefined ? undefined : [...(callerChain ?? []), caller];
    return new Promise<T>((resolve, reject) => {
      const job = (): PromiseLike<void> | undefined => {
        onStack.chain = chain;
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
          onStack.chain = undefined;
        }
      };
      const refused = this.submit(cell, job, undefined);
      if (refused) reject(refused);
    });
  }
}

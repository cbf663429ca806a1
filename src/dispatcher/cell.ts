import { Deque } from './deque.js';

/** What a job may return: nothing, or a promise the actor waits for before its next job. */
export type JobResult = void | PromiseLike<unknown>;
export type Job = () => JobResult;
export type StatefulJob<S> = (state: S) => JobResult;

/** What a full mailbox does with the job it cannot take. Either way the caller is told. */
export type OverflowPolicy = 'reject' | 'silent';

export interface MailboxOptions {
  /** Most jobs waiting in the mailbox; the dispatcher's default when absent. */
  capacity?: number;
  /** 'reject' counts the drop and calls onDropped; 'silent' only tells the caller. */
  overflow?: OverflowPolicy;
  onDropped?: (actorName: string) => void;
}

/** A pending delayed job; `cancelled` lets the timer heap drop it lazily. */
export interface TimerEntry {
  readonly due: number;
  readonly order: number;
  readonly cell: ActorCell;
  readonly job: Job;
  cancelled: boolean;
}

/** Marks a mailbox entry of three slots (marker, fn, state); a plain job takes one slot. */
export const WITH_STATE: unique symbol = Symbol('with-state');

/**
 * The runtime's bookkeeping for one actor: its mailbox and scheduling flags. Owned by the
 * Dispatcher; the Actor only holds it. A stateful job is stored flat (marker, fn, state)
 * so the state-passing variant needs no closure, and a plain job costs one slot.
 */
export class ActorCell {
  readonly mailbox = new Deque<unknown>();
  /** Stateful entries queued: each takes two slots more than a plain job. */
  statefulQueued = 0;
  /** In the run queue or being run by a loop: never both, never twice. */
  scheduled = false;
  stopped = false;
  /** Pending delayed jobs; made on first use, as most actors never have one. */
  timers: Set<TimerEntry> | undefined;

  /** Jobs waiting, not counting one that is running. */
  get depth(): number {
    return this.mailbox.length - 2 * this.statefulQueued;
  }

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    readonly onDropped: ((actorName: string) => void) | undefined,
  ) {}
}

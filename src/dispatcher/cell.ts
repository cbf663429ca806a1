import { Mailbox } from './mailbox.js';
import type { TimerEntry } from './timer-heap.js';

/** What a full mailbox does with the job it cannot take. Either way the caller is told. */
export type OverflowPolicy = 'reject' | 'silent';

export interface MailboxOptions {
  /** Most jobs waiting in the mailbox; the dispatcher's default when absent. */
  capacity?: number;
  /** 'reject' counts the drop and calls onDropped; 'silent' only tells the caller. */
  overflow?: OverflowPolicy;
  onDropped?: (actorName: string) => void;
}

/**
 * The runtime's bookkeeping for one actor: its mailbox, scheduling flags and delayed jobs.
 * Owned by the Dispatcher; the Actor only holds it.
 */
export class ActorCell {
  readonly mailbox = new Mailbox();
  /** In the run queue or being run by a loop: never both, never twice. */
  scheduled = false;
  stopped = false;
  /** Pending delayed jobs; made on first use, as most actors never have one. */
  timers: Set<TimerEntry> | undefined;

  /** Jobs waiting, not counting one that is running. */
  get depth(): number {
    return this.mailbox.length;
  }

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    readonly onDropped: ((actorName: string) => void) | undefined,
  ) {}
}

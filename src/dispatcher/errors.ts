/** Errors the actor runtime gives to callers whose job it refused or could not run. */
export class DispatcherError extends Error {
  override readonly name: string = 'DispatcherError';
}

/** The actor's mailbox is at capacity: back off and retry, or give up. */
export class MailboxFullError extends DispatcherError {
  override readonly name = 'MailboxFullError';
  constructor(
    readonly actorName: string,
    readonly capacity: number,
  ) {
    super(`mailbox of ${actorName} is full (${capacity} jobs)`);
  }
}

/** The runtime is shutting down (or the actor was stopped) and takes no new jobs. */
export class NotAcceptingError extends DispatcherError {
  override readonly name = 'NotAcceptingError';
  constructor(
    readonly actorName: string,
    reason: 'shutting down' | 'actor stopped',
  ) {
    super(`${actorName} refused a job: ${reason}`);
  }
}

/**
 * An ask that would wait on itself: from inside a job of actor A, asking A, or asking an
 * actor that is itself waiting (through asks) on A. A's mailbox cannot move until the job
 * ends, so the promise would never settle.
 */
export class ReentrantAskError extends DispatcherError {
  override readonly name = 'ReentrantAskError';
  constructor(readonly chain: readonly string[]) {
    super(
      `ask cycle ${chain.join(' -> ')}: an actor cannot wait on a job queued behind its own ` +
        `running job; call the private method directly or use enqueue() instead of ask()`,
    );
  }
}

// The global `performance` (not perf_hooks') so that fake timers in tests control it.
import type { ActorCell } from './cell.js';
import type { Job } from './mailbox.js';
import type { Mailboxes } from './mailboxes.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';
import type { LoopHooks } from './worker-loops.js';

/** A cancellable delayed job. Cancelling one that already fired does nothing. */
export interface TimerHandle {
  cancel(): void;
}

const cancelledHandle: TimerHandle = { cancel: () => undefined };

/**
 * Jobs queued on an actor after a delay. They wait in one timer heap; when due they go into
 * the owner's mailbox, never run from a timer, so they are ordered with the actor's other
 * work. The worker loops move due jobs each turn (`fireIfDue`); one Node timer, armed for
 * the earliest job, does it when the loops are idle.
 */
export class DelayedJobs {
  readonly #mailboxes: Pick<Mailboxes, 'accepting' | 'submit'>;
  readonly #hooks: Pick<LoopHooks, 'onJobError'>;
  readonly #maxDuePerTurn: number;
  readonly #heap = new TimerHeap();
  #order = 0;
  #pending = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeAt = Infinity;

  constructor(
    mailboxes: Pick<Mailboxes, 'accepting' | 'submit'>,
    hooks: Pick<LoopHooks, 'onJobError'>,
    maxDuePerTurn: number,
  ) {
    this.#mailboxes = mailboxes;
    this.#hooks = hooks;
    this.#maxDuePerTurn = maxDuePerTurn;
  }

  /** Delayed jobs neither fired nor cancelled. */
  get pending(): number {
    return this.#pending;
  }

  schedule(cell: ActorCell, delayMs: number, job: Job): TimerHandle {
    if (cell.stopped || !this.#mailboxes.accepting) return cancelledHandle;
    const entry: TimerEntry = {
      due: performance.now() + Math.max(0, delayMs),
      order: this.#order++,
      cell,
      job,
      cancelled: false,
    };
    this.#heap.push(entry);
    (cell.timers ??= new Set()).add(entry);
    this.#pending++;
    this.#armWakeTimer();
    return {
      cancel: () => {
        if (entry.cancelled || !cell.timers?.delete(entry)) return;
        entry.cancelled = true;
        this.#pending--;
      },
    };
  }

  /** Cancels the actor's delayed jobs; they stay in the heap until they surface. */
  cancelFor(cell: ActorCell): void {
    if (cell.timers === undefined) return;
    for (const entry of cell.timers) entry.cancelled = true;
    this.#pending -= cell.timers.size;
    cell.timers.clear();
  }

  cancelAll(): void {
    for (const entry of this.#heap.clear()) {
      entry.cancelled = true;
      entry.cell.timers?.delete(entry);
    }
    this.#pending = 0;
    this.#clearWakeTimer();
  }

  /** Called by each worker loop turn: cheap unless a job is due. */
  fireIfDue(): void {
    const next = this.#heap.peek();
    if (next !== undefined && next.due <= performance.now()) this.#fireDue();
  }

  /** Moves up to `maxDuePerTurn` due jobs into their mailboxes; the wake timer does the rest. */
  #fireDue(): void {
    const now = performance.now();
    for (let moved = 0; moved < this.#maxDuePerTurn;) {
      const entry = this.#heap.peek();
      if (entry === undefined || entry.due > now) break;
      this.#heap.pop();
      if (entry.cancelled) continue;
      entry.cancelled = true;
      entry.cell.timers?.delete(entry);
      this.#pending--;
      moved++;
      const refused = this.#mailboxes.submit(entry.cell, entry.job, undefined);
      if (refused) this.#hooks.onJobError?.(refused, entry.cell.name);
    }
    this.#armWakeTimer();
  }

  /** One Node timer for the earliest due job wakes the runtime when the loops are idle. */
  #armWakeTimer(): void {
    let top = this.#heap.peek();
    while (top !== undefined && top.cancelled) {
      this.#heap.pop();
      top = this.#heap.peek();
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
        this.#fireDue();
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

import { Logger } from '@nestjs/common';
import type { ChatMessage } from '../contract/events.js';
import { BusyError, RoomMovedError } from '../contract/errors.js';
import type { MessageStore, RoomFence, SendRecord } from '../store/message-store.js';
import { StaleOwnerError } from '../store/store-errors.js';

const logger = new Logger('RoomEventLog');

/** First wait before reading the store again when it could not be read; doubles up to the max. */
const RECOVERY_RETRY_MS = 250;
const RECOVERY_RETRY_MAX_MS = 5_000;

/** What the log needs from the room actor that owns it. */
export interface RoomEventLogHost {
  /**
   * Runs `recover` as a job of the room whose mailbox waits for it: no event is numbered
   * while the log finds out what the store has.
   */
  recoverInTurn(recover: () => Promise<void>): void;
  /** The same, after `delayMs`; false when the room has stopped and takes no more jobs. */
  recoverLater(delayMs: number, recover: () => Promise<void>): boolean;
  /** Broadcasts an event found stored that no write of this log answers for. */
  deliverFound(event: ChatMessage): void;
  /** Cluster mode: a write found a newer owner of the room; the room stops here. */
  ownerLost(): void;
}

/** One event handed to the store whose outcome the log does not know yet. */
interface Pending {
  readonly event: ChatMessage & { seq: number };
  /** The store's answer to the write; settled once the write is over, whatever it says. */
  readonly written: Promise<void>;
  /** Why the write failed, when it did (the event may be stored all the same). */
  failure?: Error;
  /** Settles with the truth: stored (resolve) or not (reject). */
  readonly outcome: Deferred;
  /** Settles the sender's answer: delivered, or why not. */
  readonly reply: Deferred;
  readonly onLost: (() => void) | undefined;
}

/**
 * A room's persisted events: the seq, the pipelined writes and the ordered broadcast, owned by
 * one RoomActor and called only from its jobs.
 *
 * An event gets the next seq and goes to the store at once; events are broadcast in seq order,
 * each once it is known to be stored, so members see only what history has, in one order. A
 * write can fail and yet be stored (a COMMIT whose confirmation was lost): after any failed
 * write the log waits for every write in flight, re-reads the room's stored `last_seq` and
 * events, answers and broadcasts the events that turned out stored, fails the others, and
 * numbers on from what the store has. When the store cannot even be read, the senders of the
 * unknown events hear BUSY (a retry with their clientMsgId is safe) and the room takes no event
 * until a later read settles what happened.
 */
export class RoomEventLog {
  #lastSeq: number;
  readonly #pending: Pending[] = [];
  /** Settles when every event handed to the store so far is settled and broadcast. */
  #delivered: Promise<void>;
  #recovery: 'idle' | 'queued' | 'stale' = 'idle';
  #retryMs = RECOVERY_RETRY_MS;
  /** While stale: the last seq known to be delivered; the store is re-read from there. */
  #staleSince = 0;
  /** Cluster mode: the owner epoch this log writes under (from the writes' fences). */
  #epoch: number | undefined;

  constructor(
    private readonly roomId: string,
    lastSeq: number,
    private readonly store: MessageStore,
    private readonly host: RoomEventLogHost,
    /** Settles when the room's row is durable: the first broadcast waits for it. */
    ready: Promise<void>,
    /** Only when the row's write itself had to wait (a room of this id still closing). */
    private readonly writesAfter: Promise<void> | undefined,
  ) {
    this.#lastSeq = lastSeq;
    this.#delivered = ready;
  }

  /** The seq of the newest event numbered so far. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** False while the store's answer for some event is unknown and cannot be read yet. */
  get available(): boolean {
    return this.#recovery !== 'stale';
  }

  /** BUSY while the log cannot number events. */
  requireAvailable(): void {
    if (!this.available) {
      throw new BusyError(`room ${this.roomId} is waiting for its store: retry shortly`);
    }
  }

  /** The seq the next event takes. */
  nextSeq(): number {
    return this.#lastSeq + 1;
  }

  /**
   * Hands the event (numbered with nextSeq) to the store now. Resolves once it is stored and
   * `deliver` ran, after every earlier event's; rejects when it was not stored (then `onLost`
   * runs), or with BUSY when that cannot be known yet.
   */
  append(
    event: ChatMessage,
    send: SendRecord | undefined,
    deliver: () => void,
    onLost?: () => void,
    fence?: RoomFence,
  ): Promise<void> {
    if (event.seq !== this.#lastSeq + 1) {
      throw new Error(`event seq ${event.seq} does not follow ${this.#lastSeq}`);
    }
    this.#lastSeq = event.seq;
    if (fence?.epoch !== undefined) this.#epoch = fence.epoch;
    const written =
      this.writesAfter === undefined
        ? this.store.appendRoomEvent(event, send, fence)
        : this.writesAfter.then(() => this.store.appendRoomEvent(event, send, fence));
    const pending: Pending = {
      event: event as Pending['event'],
      written: written.catch(() => undefined),
      outcome: deferred(),
      reply: deferred(),
      onLost,
    };
    this.#pending.push(pending);
    written.then(
      () => this.#settle(pending, true),
      (error: unknown) => {
        if (error instanceof StaleOwnerError) {
          this.#ownerLost();
          return;
        }
        pending.failure = error instanceof Error ? error : new Error(String(error));
        this.#queueRecovery();
      },
    );
    void this.chain(() =>
      pending.outcome.promise.then(
        () => {
          deliver();
          pending.reply.resolve();
        },
        (error: unknown) => pending.reply.reject(error),
      ),
    );
    return pending.reply.promise;
  }

  /** Runs `next` after every event handed to the store so far is settled and broadcast. */
  chain(next: () => void | Promise<void>): Promise<void> {
    const done = this.#delivered.then(next);
    // A failed step fails its own caller; later events still go out.
    this.#delivered = done.catch(() => undefined);
    return done;
  }

  /** Settles once every event numbered so far is settled and broadcast. */
  settled(): Promise<void> {
    return this.#delivered;
  }

  /**
   * Settles once the store has answered every write handed to it so far, stored or not. Unlike
   * `settled`, it never waits for a recovery (a job of the room): a job may wait for it.
   */
  answered(): Promise<void> {
    return Promise.all(this.#pending.map((pending) => pending.written)).then(() => undefined);
  }

  /**
   * The room stops here (closed, or given up) while the store could not be read: no retry
   * will run, so the events whose outcome is unknown end with BUSY (their senders may retry
   * with their clientMsgId) and whatever waits behind them goes on.
   */
  abandon(): void {
    if (this.#recovery !== 'stale') return;
    for (const pending of [...this.#pending]) {
      this.#settle(pending, false, new BusyError('the store did not confirm this event: retry'));
    }
  }

  #settle(pending: Pending, stored: boolean, reason?: Error): void {
    const index = this.#pending.indexOf(pending);
    if (index < 0) return;
    this.#pending.splice(index, 1);
    if (stored) pending.outcome.resolve();
    else {
      pending.onLost?.();
      pending.outcome.reject(reason ?? pending.failure ?? new Error('not stored'));
    }
  }

  /**
   * Another instance owns the room now: nothing numbered here is or will be stored (every
   * write carries this owner's epoch), so each sender may send again, to the new owner.
   */
  #ownerLost(): void {
    for (const pending of [...this.#pending]) {
      this.#settle(pending, false, new RoomMovedError(this.roomId));
    }
    this.host.ownerLost();
  }

  #queueRecovery(): void {
    if (this.#recovery !== 'idle') return;
    this.#recovery = 'queued';
    this.host.recoverInTurn(() => this.#recover());
  }

  /** Finds out which events the store has, from the first one whose outcome is unknown. */
  async #recover(): Promise<void> {
    // Every write in flight settles first: the read then covers all of them.
    await Promise.all(this.#pending.map((pending) => pending.written));
    const unknown = this.#pending.filter((pending) => pending.failure !== undefined);
    const wasStale = this.#recovery === 'stale';
    if (unknown.length === 0 && !wasStale) {
      this.#recovery = 'idle';
      return;
    }
    const since = wasStale ? this.#staleSince : unknown[0].event.seq - 1;
    let tail;
    try {
      tail = await this.store.roomLog(this.roomId, since);
    } catch (error) {
      this.#becomeStale(since, unknown, error);
      return;
    }
    const stored = new Map(tail.events.map((event) => [event.seq, event]));
    const pendingAt = new Map(this.#pending.map((pending) => [pending.event.seq, pending]));
    if (this.#ownerMoved(tail.ownerEpoch)) {
      // What follows our events is the new owner's, and it broadcast them itself.
      for (const pending of pendingAt.values()) {
        const mine = stored.get(pending.event.seq)?.id === pending.event.id;
        this.#settle(pending, mine, mine ? undefined : new RoomMovedError(this.roomId));
      }
      this.#recovery = 'idle';
      this.host.ownerLost();
      return;
    }
    for (const pending of pendingAt.values()) {
      this.#settle(pending, stored.get(pending.event.seq)?.id === pending.event.id);
    }
    // This log numbered every seq up to #lastSeq; anything else there was written by another.
    for (const event of tail.events) {
      const seq = event.seq as number;
      const mine = pendingAt.get(seq);
      if (seq <= this.#lastSeq && (mine === undefined || mine.event.id === event.id)) continue;
      logger.warn(`room ${this.roomId}: seq ${event.seq} was stored by another writer`);
      void this.chain(() => this.host.deliverFound(event));
    }
    if (unknown.length > 0 || wasStale) {
      logger.warn(
        `room ${this.roomId} re-read its log after a failed write: ` +
          `last seq ${tail.lastSeq} (numbering had reached ${this.#lastSeq})`,
      );
    }
    this.#lastSeq = tail.lastSeq;
    this.#recovery = 'idle';
    this.#retryMs = RECOVERY_RETRY_MS;
  }

  #ownerMoved(storedEpoch: number | undefined): boolean {
    return this.#epoch !== undefined && storedEpoch !== undefined && storedEpoch !== this.#epoch;
  }

  #becomeStale(since: number, unknown: readonly Pending[], error: unknown): void {
    if (this.#recovery !== 'stale') {
      logger.warn(
        `room ${this.roomId} cannot read its log after a failed write (${String(error)}): ` +
          'refusing events with BUSY until it can',
      );
    }
    this.#recovery = 'stale';
    this.#staleSince = since;
    // They may be stored or not: the senders may retry with their clientMsgId.
    for (const pending of unknown) {
      pending.reply.reject(
        new BusyError('the store did not confirm this event: retry with the same clientMsgId'),
      );
    }
    const delayMs = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RECOVERY_RETRY_MAX_MS);
    if (!this.host.recoverLater(delayMs, () => this.#recover())) {
      // The room is gone: nothing will ever read what became of them.
      for (const pending of [...this.#pending]) this.#settle(pending, false);
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(reason: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The sender may have stopped listening (a BUSY already answered it): never unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

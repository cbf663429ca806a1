import { Logger } from '@nestjs/common';
import type { UserRef } from '../contract/events.js';
import { createMessage } from '../contract/messages.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import type { TimerHandle } from '../dispatcher/index.js';
import { sendRecord, type MessageStore, type PendingMemo } from '../store/message-store.js';
import type { SendResult } from './send-ledger.js';

/** Memos read from the store at a time; a batch is then cut to its byte budget. */
const MEMO_PAGE = 100;

const logger = new Logger('Memos');

/** Where an outbox reads the memos it delivers: the store, or (cluster) claims of them. */
export interface MemoSource {
  pendingMemos(userId: string, after: number, limit: number): Promise<PendingMemo[]>;
}

/** What sending a memo needs to know of the recipient. */
export interface MemoRecipients {
  /** The user when a message sent now reaches one of its sockets. */
  reachableRef(userId: string): Promise<UserRef | undefined>;
  /** The user while it has an online session (also during its presence grace). */
  onlineRef(userId: string): Promise<UserRef | undefined>;
  /** Delivers what is stored for the user, when it has a session here. */
  flushMemos(userId: string): void;
}

/**
 * `memo:send`: every memo is stored first (with its send record), then the sender's own
 * sockets get their copy at once and the recipient's come through its outbox, until one of
 * them has it (a socket can vanish with a memo in flight). `delivered` says whether the
 * recipient had a socket when it was sent.
 */
export async function sendMemo(
  deps: { store: MessageStore; delivery: DeliveryService; recipients: MemoRecipients },
  from: UserRef,
  to: string,
  content: string,
  clientMsgId: string | undefined,
): Promise<SendResult> {
  const online = await deps.recipients.reachableRef(to);
  const message = createMessage('instant_message', {
    sender: from,
    recipient: online ?? (await deps.recipients.onlineRef(to)) ?? { id: to, name: to },
    content,
  });
  const delivered = online !== undefined;
  const send =
    clientMsgId === undefined ? undefined : sendRecord(from.id, clientMsgId, message, delivered);
  await deps.store.addMemo(message, send);
  if (from.id !== to) deps.delivery.toUsers([from.id], message);
  deps.recipients.flushMemos(to);
  return { message, delivered };
}

export interface MemoOutboxSettings {
  /** A memo flushed to a socket that stays connected this long counts as received. */
  memoConfirmMs: number;
  /** Most bytes of memos in flight to a socket at once. */
  recoveryBatchBytes: number;
}

/** What the outbox needs from the user actor that owns it. */
export interface MemoOutboxHost {
  /** The user's sockets now. */
  sockets(): ReadonlySet<string>;
  /** Runs `fn` as a job of the actor and answers with its result. */
  inActor<T>(fn: () => T): Promise<T>;
  /** Queues a job on the actor. */
  enqueue(job: () => void): void;
  /** Queues a job on the actor after `delayMs`. */
  later(delayMs: number, job: () => void): TimerHandle;
}

/**
 * Memo deletions in flight, per user, shared by every outbox: a pass reads the store only once
 * the deletions before it have landed, so a memo acknowledged in a session that just ended is
 * not read again by the next one.
 */
export class MemoDeletions {
  readonly #inFlight = new Map<string, { count: number; waiters: Array<() => void> }>();

  track(userId: string, deletion: Promise<unknown>): void {
    let entry = this.#inFlight.get(userId);
    if (entry === undefined) {
      entry = { count: 0, waiters: [] };
      this.#inFlight.set(userId, entry);
    }
    entry.count++;
    const done = (): void => {
      if (--entry.count > 0) return;
      this.#inFlight.delete(userId);
      for (const wake of entry.waiters) wake();
    };
    deletion.then(done, done);
  }

  /** Settles once no deletion of the user's memos is in flight. */
  settled(userId: string): Promise<void> {
    const entry = this.#inFlight.get(userId);
    if (entry === undefined) return Promise.resolve();
    return new Promise((resolve) => entry.waiters.push(resolve));
  }
}

interface SentBatch {
  /** The position of the last memo looked at: the next page starts after it. */
  lastPosition: number;
  /** Memo ids emitted, per socket. */
  bySocket: Map<string, string[]>;
  /** Ids of the stored memos looked at. */
  seen: string[];
}

/**
 * The memos stored for one user while it had no socket, delivered until the client has them
 * (at least once; clients drop ids they already have). Memos go out in pages, each emitted with
 * a socket.io acknowledgement; the next batch waits until the previous one has left for the
 * network, so a slow reader holds one batch, never the whole backlog. A memo is deleted once any
 * socket of the user acknowledges it, or once the socket it was flushed to has stayed connected
 * for MEMO_CONFIRM_MS (a v1 client that never acknowledges). Everything else stays stored and
 * comes again on the next connect, with its original id.
 *
 * Owned by one UserActor: every method runs in the actor's jobs; the pass itself runs between
 * them and comes back through `host`.
 */
export class MemoOutbox {
  #pass: Promise<void> | undefined;
  #passAgain = false;
  /** The sockets each pending memo was emitted to, so a new pass sends it only to new ones. */
  readonly #sentTo = new Map<string, Set<string>>();
  /** Acknowledged or confirmed: deleted, or about to be. Never sent again in this session. */
  readonly #settled = new Set<string>();

  constructor(
    private readonly userId: string,
    private readonly source: MemoSource,
    private readonly store: MessageStore,
    private readonly delivery: DeliveryService,
    private readonly deletions: MemoDeletions,
    private readonly settings: MemoOutboxSettings,
    private readonly host: MemoOutboxHost,
  ) {}

  /** Delivers whatever is stored to the sockets that do not have it yet; one pass at a time. */
  flush(): void {
    if (this.#pass !== undefined) {
      this.#passAgain = true;
      return;
    }
    this.#pass = this.#deliverAll()
      .catch((error: unknown) => {
        // Still stored: delivered on a later pass or connect.
        logger.warn(`memo delivery to ${this.userId} stopped: ${String(error)}`);
      })
      .finally(() =>
        this.host.enqueue(() => {
          this.#pass = undefined;
          if (this.#passAgain) {
            this.#passAgain = false;
            this.flush();
          }
        }),
      );
  }

  async #deliverAll(): Promise<void> {
    let after = 0;
    const stored = new Set<string>();
    for (;;) {
      await this.deletions.settled(this.userId);
      const page = await this.source.pendingMemos(this.userId, after, MEMO_PAGE);
      if (page.length === 0) {
        // Memos deleted elsewhere (another instance's socket had them): forget them here too.
        this.host.enqueue(() => this.#forgetAllBut(stored));
        return;
      }
      const sent = await this.host.inActor(() => this.#emit(page));
      if (sent === undefined) return; // no socket left
      for (const id of sent.seen) stored.add(id);
      after = sent.lastPosition;
      await Promise.all(
        [...sent.bySocket].map(async ([socketId, ids]) => {
          if (await this.delivery.whenFlushed(socketId)) {
            this.host.enqueue(() => this.#confirmLater(socketId, ids));
          }
        }),
      );
    }
  }

  /** Emits the page's memos, up to the byte budget, to the sockets that lack them. */
  #emit(page: readonly PendingMemo[]): SentBatch | undefined {
    const sockets = this.host.sockets();
    if (sockets.size === 0) return undefined;
    const batch: SentBatch = { lastPosition: 0, bySocket: new Map(), seen: [] };
    const bytesTo = new Map<string, number>();
    let bytes = 0;
    for (const { memo, position, bytes: size } of page) {
      if (bytes > 0 && bytes + size > this.settings.recoveryBatchBytes) break;
      batch.lastPosition = position;
      batch.seen.push(memo.id);
      if (this.#settled.has(memo.id)) continue;
      const sentTo = this.#sentTo.get(memo.id) ?? new Set<string>();
      for (const socketId of sockets) {
        if (sentTo.has(socketId)) continue;
        const emitted = this.delivery.sendMemo(socketId, memo, () =>
          this.host.enqueue(() => this.#settle(memo.id)),
        );
        if (!emitted) continue;
        sentTo.add(socketId);
        bytes += size;
        bytesTo.set(socketId, (bytesTo.get(socketId) ?? 0) + size);
        const ids = batch.bySocket.get(socketId);
        if (ids === undefined) batch.bySocket.set(socketId, [memo.id]);
        else ids.push(memo.id);
      }
      this.#sentTo.set(memo.id, sentTo);
    }
    // The batch as a whole, so that no slow-consumer check counts it as a backlog.
    for (const [socketId, size] of bytesTo) this.delivery.noteRequested(socketId, size);
    return batch;
  }

  #forgetAllBut(stored: ReadonlySet<string>): void {
    for (const id of this.#sentTo.keys()) if (!stored.has(id)) this.#sentTo.delete(id);
  }

  /** A client that never acknowledges: received once its socket stayed this long. */
  #confirmLater(socketId: string, ids: readonly string[]): void {
    this.host.later(this.settings.memoConfirmMs, () => {
      if (!this.host.sockets().has(socketId)) return;
      for (const id of ids) this.#settle(id);
    });
  }

  /** Received: deleted now (every deletion of one turn shares a group-committed batch). */
  #settle(memoId: string): void {
    if (this.#settled.has(memoId)) return;
    this.#settled.add(memoId);
    this.#sentTo.delete(memoId);
    const deletion = this.store.deleteMemos([memoId]);
    this.deletions.track(this.userId, deletion);
    deletion.then(
      // Gone from the store, and every later read waits for the deletion: no need to remember.
      () => this.host.enqueue(() => this.#settled.delete(memoId)),
      (error: unknown) => {
        logger.warn(`memo of ${this.userId} not deleted: ${String(error)}; it comes again`);
        this.host.enqueue(() => this.#settled.delete(memoId));
      },
    );
  }
}

import type { ChatMessage, UserRef } from '../contract/events.js';
import { BusyError, RateLimitedError } from '../contract/errors.js';
import { createMessage } from '../contract/messages.js';
import { TokenBucket } from '../common/token-bucket.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { Actor, type Dispatcher, type TimerHandle } from '../dispatcher/index.js';
import type { MessageStore } from '../store/message-store.js';
import { MemoOutbox, type MemoDeletions, type MemoOutboxSettings } from './memo-outbox.js';

/** What a send answers, replayed for a retry with the same clientMsgId. */
export interface SendOutcome {
  message: ChatMessage;
  delivered?: boolean;
}

export interface UserSnapshot {
  id: string;
  name: string;
  rooms: string[];
  idleMs: number;
}

export interface UserSettings extends MemoOutboxSettings {
  presenceGraceMs: number;
  idleTimeoutMs: number;
  rateLimitBurst: number;
  rateLimitPerSecond: number;
  /** Joins, leaves, invitations and typing: a bucket apart from the sends'. */
  activityRateBurst: number;
  activityRatePerSecond: number;
}

/** How a user actor reports its lifecycle to the directory (UsersService). */
export interface UserLifecycle {
  online(user: UserRef): void;
  /** Whether presence goes to every online user now, or only to the subject (at scale). */
  broadcastsPresence(): boolean;
  /** Whether the user has at least one socket now (false during presence grace). */
  reachable(user: UserRef, reachable: boolean): void;
  /** The user went offline: it leaves these rooms. */
  offline(user: UserRef, roomIds: string[]): void;
  /** The actor stopped for good; a later connect gets a fresh actor. */
  retired(actor: UserActor): void;
  /** A socket reached an actor that had already retired: connect it afresh. */
  reconnect(socketId: string, user: UserRef): void;
}

export interface UserActorDeps {
  dispatcher: Dispatcher;
  delivery: DeliveryService;
  store: MessageStore;
  /** Shared by every user's outbox (see MemoDeletions). */
  memoDeletions: MemoDeletions;
  settings: UserSettings;
  lifecycle: UserLifecycle;
}

type Phase = 'new' | 'online' | 'grace' | 'offline';

/** Clients retry with the same clientMsgId within seconds; this many are kept in memory. */
const RECENT_SENDS = 256;

/**
 * One connected user: its sockets, the rooms it is in, its last activity, its send rate.
 * Online from its first socket until its last closes (after any presence grace).
 */
export class UserActor extends Actor {
  readonly ref: UserRef;
  #phase: Phase = 'new';
  readonly #sockets = new Set<string>();
  readonly #rooms = new Set<string>();
  #lastActivity = Date.now();
  #forcedOffline = false;
  /** Whether everyone was told of this user's connect: then everyone hears of its disconnect. */
  #announcedToEveryone = false;
  #grace: TimerHandle | undefined;
  #idleScan: TimerHandle | undefined;
  readonly #bucket: TokenBucket;
  /** Made on the first kick or mute: most users never moderate. */
  #moderationBucket: TokenBucket | undefined;
  /** Made on the first join, leave, invitation or typing. */
  #activityBucket: TokenBucket | undefined;
  /** Made on the first send with a clientMsgId: most connections never make one. */
  #recentSends: Map<string, Promise<SendOutcome>> | undefined;
  readonly #memos: MemoOutbox;

  constructor(
    user: UserRef,
    private readonly deps: UserActorDeps,
  ) {
    super(deps.dispatcher, { name: `user:${user.id}` });
    this.ref = Object.freeze({ ...user });
    this.#bucket = new TokenBucket(deps.settings.rateLimitBurst, deps.settings.rateLimitPerSecond);
    this.#memos = new MemoOutbox(
      user.id,
      deps.store,
      deps.delivery,
      deps.memoDeletions,
      deps.settings,
      {
        sockets: () => this.#sockets,
        inActor: (fn) => this.ask(fn),
        enqueue: (job) => void this.enqueue(job),
        later: (delayMs, job) => this.enqueueAfter(delayMs, job),
      },
    );
  }

  /** A socket of this user connected (its user channel is already joined). */
  attach(socketId: string): boolean {
    return this.enqueue(() => this.#attach(socketId));
  }

  detach(socketId: string): void {
    this.enqueue(() => this.#detach(socketId));
  }

  touch(): void {
    this.enqueue(() => {
      this.#lastActivity = Date.now();
    });
  }

  /**
   * Runs a send for this user: rate-limited, and de-duplicated by clientMsgId while it is
   * in flight or recent. `perform` queues the work synchronously, so the user's sends
   * reach their rooms in order; the actor does not wait for the store.
   */
  send(clientMsgId: string | undefined, perform: () => Promise<SendOutcome>): Promise<SendOutcome> {
    return this.answer(() => this.#send(clientMsgId, perform)).catch((error: unknown) => {
      throw error instanceof Error && error.name === 'NotAcceptingError' ? new BusyError() : error;
    });
  }

  /**
   * Takes a token for a moderation action (it reaches every member): RATE_LIMITED when spent.
   * A bucket of its own, with the send limits, so moderating never eats the message burst.
   */
  chargeModeration(): Promise<void> {
    return this.ask(() => {
      const { rateLimitBurst, rateLimitPerSecond } = this.deps.settings;
      this.#moderationBucket ??= new TokenBucket(rateLimitBurst, rateLimitPerSecond);
      const waitMs = this.#moderationBucket.take();
      if (waitMs > 0) throw new RateLimitedError(waitMs);
    });
  }

  /**
   * Takes a token for a join, leave, invitation or typing (each reaches every member, and
   * joins and leaves are stored): RATE_LIMITED when spent. A bucket of its own, so the message
   * burst stays whole. A join of a room the user is in, or a leave of one it is not in,
   * changes nothing and costs nothing.
   */
  chargeActivity(change?: { join: string } | { leave: string }): Promise<void> {
    return this.ask(() => {
      if (change !== undefined) {
        const joining = 'join' in change;
        if (this.#rooms.has(joining ? change.join : change.leave) === joining) return;
      }
      const { activityRateBurst, activityRatePerSecond } = this.deps.settings;
      this.#activityBucket ??= new TokenBucket(activityRateBurst, activityRatePerSecond);
      const waitMs = this.#activityBucket.take();
      if (waitMs > 0) throw new RateLimitedError(waitMs, 'joins, leaves, invitations and typing');
    });
  }

  /** Whether the user is in `roomId` already or in fewer than `max` rooms. */
  hasRoomFor(roomId: string, max: number): Promise<boolean> {
    return this.ask(() => this.#rooms.has(roomId) || this.#rooms.size < max);
  }

  noteJoined(roomId: string): boolean {
    return this.enqueue(() => this.#noteJoined(roomId));
  }

  noteLeft(roomId: string): void {
    this.enqueue(() => void this.#rooms.delete(roomId));
  }

  /** Closes every socket of the user (idle timeout, admin): offline at once, no grace. */
  disconnect(): void {
    this.enqueue(() => {
      this.#forcedOffline = true;
      this.deps.delivery.disconnectUser(this.ref.id);
    });
  }

  /** Delivers the memos stored for the user (see MemoOutbox). */
  flushMemos(): void {
    this.enqueue(() => this.#memos.flush());
  }

  snapshot(): Promise<UserSnapshot> {
    return this.ask(() => ({
      id: this.ref.id,
      name: this.ref.name,
      rooms: [...this.#rooms],
      idleMs: Date.now() - this.#lastActivity,
    }));
  }

  // ---- job bodies -------------------------------------------------------------------------

  #attach(socketId: string): void {
    if (this.#phase === 'offline') {
      // This actor already retired; the directory will make a fresh one.
      this.deps.lifecycle.reconnect(socketId, this.ref);
      return;
    }
    this.#sockets.add(socketId);
    if (this.#sockets.size === 1) this.deps.lifecycle.reachable(this.ref, true);
    this.#lastActivity = Date.now();
    // A new tab joins the rooms the user is already in.
    if (this.#rooms.size > 0) this.deps.delivery.joinSocket(socketId, [...this.#rooms]);
    if (this.#phase === 'grace') {
      this.#grace?.cancel();
      this.#grace = undefined;
      this.#phase = 'online';
    } else if (this.#phase === 'new') {
      this.#phase = 'online';
      this.deps.lifecycle.online(this.ref);
      this.#announcedToEveryone = this.deps.lifecycle.broadcastsPresence();
      this.#announce('user_connect', `${this.ref.name} connected`, this.#announcedToEveryone);
      this.#startIdleScan();
    }
    // Stored memos go to every socket that does not have them yet, this one included.
    this.#memos.flush();
  }

  #detach(socketId: string): void {
    if (!this.#sockets.delete(socketId) || this.#sockets.size > 0) return;
    this.deps.lifecycle.reachable(this.ref, false);
    const grace = this.deps.settings.presenceGraceMs;
    if (grace > 0 && !this.#forcedOffline) {
      this.#phase = 'grace';
      this.#grace = this.enqueueAfter(grace, () => {
        if (this.#phase === 'grace' && this.#sockets.size === 0) this.#goOffline();
      });
      return;
    }
    this.#goOffline();
  }

  #goOffline(): void {
    this.#phase = 'offline';
    this.#idleScan?.cancel();
    const rooms = [...this.#rooms];
    this.#rooms.clear();
    // Counted with the subject still online, as its connect was.
    const toEveryone = this.#announcedToEveryone || this.deps.lifecycle.broadcastsPresence();
    this.deps.lifecycle.offline(this.ref, rooms);
    this.#announce('user_disconnect', `${this.ref.name} disconnected`, toEveryone);
    this.stop();
    this.deps.lifecycle.retired(this);
  }

  /**
   * Presence to every online user costs N deliveries a connect, N² for a connect storm;
   * past PRESENCE_BROADCAST_MAX_USERS online users (when set) only the subject hears of
   * its own connect.
   */
  #announce(type: 'user_connect' | 'user_disconnect', content: string, toEveryone: boolean): void {
    const message = createMessage(type, { user: this.ref, content });
    if (toEveryone) this.deps.delivery.toEveryone(message);
    else if (type === 'user_connect') this.deps.delivery.toUsers([this.ref.id], message);
  }

  #send(
    clientMsgId: string | undefined,
    perform: () => Promise<SendOutcome>,
  ): Promise<SendOutcome> {
    this.#lastActivity = Date.now();
    if (clientMsgId !== undefined) {
      const earlier = this.#recentSends?.get(clientMsgId);
      if (earlier !== undefined) return earlier;
    }
    const waitMs = this.#bucket.take();
    if (waitMs > 0) throw new RateLimitedError(waitMs);
    const outcome = perform();
    if (clientMsgId !== undefined) this.#remember(clientMsgId, outcome);
    return outcome;
  }

  #remember(clientMsgId: string, outcome: Promise<SendOutcome>): void {
    const recent = (this.#recentSends ??= new Map());
    recent.set(clientMsgId, outcome);
    if (recent.size > RECENT_SENDS) recent.delete(recent.keys().next().value as string);
    // A refused send used nothing up: a retry runs afresh.
    outcome.catch(() => {
      if (recent.get(clientMsgId) === outcome) recent.delete(clientMsgId);
    });
  }

  #noteJoined(roomId: string): void {
    if (this.#phase === 'offline') {
      // The join raced with going offline: leave again.
      this.deps.lifecycle.offline(this.ref, [roomId]);
      return;
    }
    this.#rooms.add(roomId);
  }

  #startIdleScan(): void {
    const timeout = this.deps.settings.idleTimeoutMs;
    if (timeout <= 0) return;
    const every = Math.min(10_000, Math.max(25, Math.floor(timeout / 4)));
    this.#idleScan = this.every(every, () => {
      if (
        this.#phase === 'online' &&
        !this.#forcedOffline &&
        Date.now() - this.#lastActivity >= timeout
      ) {
        this.#forcedOffline = true;
        this.deps.delivery.disconnectUser(this.ref.id);
      }
    });
  }
}

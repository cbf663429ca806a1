import { Logger } from '@nestjs/common';
import type {
  ChatMessage,
  ClientEventResult,
  RoomCreateInput,
  RoomJoinResult,
  UserRef,
} from '../contract/events.js';
import {
  ForbiddenError,
  RateLimitedError,
  RoomNotFoundError,
  UserOfflineError,
} from '../contract/errors.js';
import { createMessage } from '../contract/messages.js';
import { TokenBucket } from '../common/token-bucket.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { Actor, type Dispatcher, type TimerHandle } from '../dispatcher/index.js';
import type { RoomHandle } from '../rooms/room-handle.js';
import type { RoomsService } from '../rooms/rooms.service.js';
import { sendRecord, type MessageStore } from '../store/message-store.js';
import {
  MemoOutbox,
  sendMemo,
  type MemoDeletions,
  type MemoOutboxSettings,
  type MemoRecipients,
  type MemoSource,
} from './memos.js';
import { SendLedger, type SendClaims, type SendResult } from './send-ledger.js';
import type { RateKind, SharedRates } from './shared-rates.js';

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
  /** Rooms a user may be in; a join past it is FORBIDDEN. */
  maxRoomsPerUser: number;
}

/** What a user actor needs of the directory of users (UsersService). */
export interface UserDirectory extends MemoRecipients {
  /** The user's first socket here: the directory announces it when it is the first anywhere. */
  arrived(user: UserRef): void;
  /** Whether the user has at least one socket here now (false during presence grace). */
  reachable(user: UserRef, reachable: boolean): void;
  /**
   * The user's last socket here is gone and its grace over: when it has none anywhere either,
   * the directory announces it and the user leaves its rooms (`roomIds` and any others).
   */
  departed(user: UserRef, roomIds: readonly string[]): void;
  /** The actor stopped for good; a later connect gets a fresh actor. */
  retired(actor: UserActor): void;
  /** A socket reached an actor that had already retired: connect it afresh. */
  reconnect(socketId: string, user: UserRef): void;
  /** Cluster mode: the rooms the user is in, for its first socket on this instance. */
  roomsOf?(userId: string): Promise<readonly string[]>;
  /** Cluster mode: whether the user was active on any instance within the last `ms`. */
  activeWithin?(userId: string, ms: number): Promise<boolean>;
  /** Cluster mode: the user did something here now. */
  active?(userId: string): void;
}

/** The rooms a user actor acts on: found by id (NOT_FOUND), or made (room:create). */
export type RoomDirectory = Pick<RoomsService, 'resolve' | 'create'>;

export interface UserActorDeps {
  dispatcher: Dispatcher;
  delivery: DeliveryService;
  store: MessageStore;
  rooms: RoomDirectory;
  directory: UserDirectory;
  /** Shared by every user's outbox (see MemoDeletions). */
  memoDeletions: MemoDeletions;
  settings: UserSettings;
  /** Cluster mode: the user's rates, counted across instances (else buckets of its own). */
  sharedRates?: SharedRates;
  /** Cluster mode: where the outbox reads memos (claimed by this instance while delivered). */
  memoSource?: MemoSource;
  /** Cluster mode: clientMsgIds claimed across instances while their send is in flight. */
  sendClaims?: SendClaims;
}

type Phase = 'new' | 'online' | 'grace' | 'offline';

const logger = new Logger('UserActor');

/**
 * One connected user: its sockets, the rooms it is in, its last activity, its rates, its
 * `clientMsgId`s and its stored memos. Online from its first socket until its last closes
 * (after any presence grace).
 *
 * Everything a user does goes through its actor's intent methods (`postToRoom`, `joinRoom`,
 * `sendMemo`, ...): each only queues; its job checks the user's own rules (rates, room count,
 * idempotency) and hands the work to a room actor or the store, without waiting for it, so
 * the user's sends reach their rooms in the order made and the mailbox moves on.
 */
export class UserActor extends Actor {
  readonly ref: UserRef;
  #phase: Phase = 'new';
  readonly #sockets = new Set<string>();
  readonly #rooms = new Set<string>();
  #lastActivity = Date.now();
  #forcedOffline = false;
  /** Until then a last socket closing waits for one to come back (see holdPresence). */
  #holdUntil = 0;
  #grace: TimerHandle | undefined;
  #idleScan: TimerHandle | undefined;
  #sendBucket: TokenBucket | undefined;
  /** Made on the first kick or mute: most users never moderate. */
  #moderationBucket: TokenBucket | undefined;
  /** Made on the first join, leave, invitation or typing. */
  #activityBucket: TokenBucket | undefined;
  readonly #ledger: SendLedger;
  readonly #memos: MemoOutbox;

  constructor(
    user: UserRef,
    private readonly deps: UserActorDeps,
  ) {
    super(deps.dispatcher, { name: `user:${user.id}` });
    this.ref = Object.freeze({ ...user });
    this.#ledger = new SendLedger(user.id, deps.store, deps.sendClaims);
    this.#memos = new MemoOutbox(
      user.id,
      deps.memoSource ?? deps.store,
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

  // ---- sessions -----------------------------------------------------------------------------

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
      this.deps.directory.active?.(this.ref.id);
    });
  }

  /**
   * Its sockets here are about to be closed for them to come back (a resync): should the last
   * close, wait at least `ms` for one to return before the user goes offline.
   */
  holdPresence(ms: number): void {
    this.enqueue(() => {
      this.#holdUntil = Math.max(this.#holdUntil, Date.now() + ms);
    });
  }

  /** Closes every socket of the user (idle timeout, admin): offline at once, no grace. */
  disconnect(): void {
    this.enqueue(() => {
      this.#forcedOffline = true;
      this.deps.delivery.disconnectUser(this.ref.id);
    });
  }

  snapshot(): Promise<UserSnapshot> {
    return this.ask(() => ({
      id: this.ref.id,
      name: this.ref.name,
      rooms: [...this.#rooms],
      idleMs: Date.now() - this.#lastActivity,
    }));
  }

  // ---- sends --------------------------------------------------------------------------------

  /** room:message. */
  postToRoom(roomId: string, content: string, clientMsgId?: string): Promise<SendResult> {
    return this.#once(clientMsgId, () =>
      this.answer(() => this.#postToRoom(roomId, content, clientMsgId)),
    );
  }

  /** private:message: USER_OFFLINE when the recipient has no socket. */
  sendPrivate(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    return this.#once(clientMsgId, () =>
      this.answer(() => this.#sendPrivate(to, content, clientMsgId)),
    );
  }

  /** memo:send, to any user, online or not. */
  sendMemo(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    return this.#once(clientMsgId, () =>
      this.answer(() => this.#sendMemo(to, content, clientMsgId)),
    );
  }

  /** v2 room:edit: in the one clientMsgId scope of the sends. */
  editMessage(
    roomId: string,
    seq: number,
    content: string,
    clientMsgId?: string,
  ): Promise<SendResult> {
    return this.#once(clientMsgId, () =>
      this.answer(async () => {
        const room = await this.#sendTo(roomId);
        return { message: await room.edit(this.ref, seq, content, clientMsgId) };
      }),
    );
  }

  /** v2 room:delete. */
  deleteMessage(roomId: string, seq: number): Promise<ChatMessage> {
    return this.answer(async () => (await this.#sendTo(roomId)).deleteMessage(this.ref, seq));
  }

  /** v2 room:react. */
  react(
    roomId: string,
    seq: number,
    emoji: string,
    on: boolean,
  ): Promise<{ message?: ChatMessage }> {
    return this.answer(async () => (await this.#sendTo(roomId)).react(this.ref, seq, emoji, on));
  }

  /** v2 room:read: free (clients send it on every scroll), in order with the user's sends. */
  markRead(roomId: string, seq: number): Promise<number> {
    return this.answer(async () => (await this.deps.rooms.resolve(roomId)).markRead(this.ref, seq));
  }

  /** v2 user:block (`on`) and user:unblock: answered once durable. */
  block(userId: string, on: boolean): Promise<void> {
    return this.answer(async () => {
      await this.#charge('send');
      return this.deps.store.setBlock(this.ref.id, userId, on);
    });
  }

  /** v2 user:blocks. */
  blockList(): Promise<string[]> {
    return this.answer(async () => {
      await this.#charge('send');
      return this.deps.store.blocksOf(this.ref.id);
    });
  }

  /** Delivers the memos stored for the user (see MemoOutbox). */
  flushMemos(): void {
    this.enqueue(() => this.#memos.flush());
  }

  // ---- rooms --------------------------------------------------------------------------------

  /** room:create: the user owns the room and joins it. */
  createRoom(input: RoomCreateInput): Promise<ClientEventResult<'room:create'>> {
    return this.answer(() => this.#createRoom(input));
  }

  /** room:join, with `since` to recover what was missed. */
  joinRoom(roomId: string, since?: number): Promise<RoomJoinResult> {
    return this.answer(() => this.#joinRoom(roomId, since));
  }

  leaveRoom(roomId: string): Promise<void> {
    return this.answer(() => this.#leaveRoom(roomId));
  }

  invite(roomId: string, userId: string): Promise<void> {
    return this.answer(async () => {
      await this.#charge('activity');
      return (await this.deps.rooms.resolve(roomId)).invite(this.ref.id, userId);
    });
  }

  typing(roomId: string): Promise<void> {
    return this.answer(async () => {
      await this.#charge('activity');
      return (await this.deps.rooms.resolve(roomId)).typing(this.ref);
    });
  }

  kick(roomId: string, userId: string): Promise<void> {
    return this.answer(async () => {
      await this.#charge('moderation');
      return (await this.deps.rooms.resolve(roomId)).kick(this.ref.id, userId);
    });
  }

  mute(roomId: string, userId: string, seconds: number): Promise<{ mutedUntil?: string }> {
    return this.answer(async () => {
      await this.#charge('moderation');
      return (await this.deps.rooms.resolve(roomId)).mute(this.ref.id, userId, seconds);
    });
  }

  /** A room tells the user it joined (also when placed by the admin API). */
  noteJoined(roomId: string): boolean {
    return this.enqueue(() => this.#noteJoined(roomId));
  }

  /** A room tells the user it left (a leave, a kick, a close). */
  noteLeft(roomId: string): void {
    this.enqueue(() => void this.#rooms.delete(roomId));
  }

  // ---- job bodies: sessions -----------------------------------------------------------------

  #attach(socketId: string): void {
    if (this.#phase === 'offline') {
      // This actor already retired; the directory will make a fresh one.
      this.deps.directory.reconnect(socketId, this.ref);
      return;
    }
    this.#sockets.add(socketId);
    if (this.#sockets.size === 1) this.deps.directory.reachable(this.ref, true);
    this.#lastActivity = Date.now();
    // A new tab joins the rooms the user is already in.
    if (this.#rooms.size > 0) this.deps.delivery.joinSocket(socketId, [...this.#rooms]);
    if (this.#phase === 'grace') {
      this.#grace?.cancel();
      this.#grace = undefined;
      this.#phase = 'online';
    } else if (this.#phase === 'new') {
      this.#phase = 'online';
      this.deps.directory.arrived(this.ref);
      this.#startIdleScan();
      this.#loadRooms();
    }
    // Stored memos go to every socket that does not have them yet, this one included.
    this.#memos.flush();
  }

  #detach(socketId: string): void {
    if (!this.#sockets.delete(socketId) || this.#sockets.size > 0) return;
    this.deps.directory.reachable(this.ref, false);
    const grace = Math.max(this.deps.settings.presenceGraceMs, this.#holdUntil - Date.now());
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
    // Membership lasts for the online session: the directory has every room left.
    const rooms = [...this.#rooms];
    this.#rooms.clear();
    this.deps.directory.departed(this.ref, rooms);
    this.stop();
    this.deps.directory.retired(this);
  }

  #startIdleScan(): void {
    const timeout = this.deps.settings.idleTimeoutMs;
    if (timeout <= 0) return;
    const every = Math.min(10_000, Math.max(25, Math.floor(timeout / 4)));
    this.#idleScan = this.every(every, () => {
      if (
        this.#phase !== 'online' ||
        this.#forcedOffline ||
        Date.now() - this.#lastActivity < timeout
      ) {
        return;
      }
      const elsewhere = this.deps.directory.activeWithin?.(this.ref.id, timeout);
      if (elsewhere === undefined) return this.#idleOut();
      // Active on another instance: not idle (cluster mode).
      void elsewhere.then(
        (active) => !active && this.enqueue(() => this.#idleOut()),
        () => undefined,
      );
    });
  }

  #idleOut(): void {
    if (this.#phase !== 'online' || this.#forcedOffline) return;
    this.#forcedOffline = true;
    this.deps.delivery.disconnectUser(this.ref.id);
  }

  /** Cluster mode: a user's first socket here learns the rooms it is in on other instances. */
  #loadRooms(): void {
    const loading = this.deps.directory.roomsOf?.(this.ref.id);
    loading?.then(
      (roomIds) =>
        this.enqueue(() => {
          const fresh = roomIds.filter((roomId) => !this.#rooms.has(roomId));
          for (const roomId of fresh) this.#rooms.add(roomId);
          for (const socketId of this.#sockets) this.deps.delivery.joinSocket(socketId, fresh);
        }),
      (error: unknown) => logger.warn(`rooms of ${this.ref.id} not loaded: ${String(error)}`),
    );
  }

  // ---- job bodies: sends --------------------------------------------------------------------

  /**
   * Runs `send` once per `clientMsgId` (SendLedger): a retry gets the first answer. `send`
   * queues the work on this actor, where the rate is checked.
   */
  #once(clientMsgId: string | undefined, send: () => Promise<SendResult>): Promise<SendResult> {
    if (clientMsgId === undefined) return send();
    return this.answer(() => this.#ledger.once(clientMsgId, send));
  }

  async #postToRoom(roomId: string, content: string, clientMsgId?: string): Promise<SendResult> {
    const room = await this.#sendTo(roomId);
    return { message: await room.post(this.ref, content, clientMsgId) };
  }

  /** A send to a room (a message, an edit, a deletion, a reaction): the rate, then the room. */
  async #sendTo(roomId: string): Promise<RoomHandle> {
    await this.#charge('send');
    return this.deps.rooms.resolve(roomId);
  }

  /** FORBIDDEN when `to` blocks this user (checked before anything is stored or sent). */
  async #requireNotBlockedBy(to: string): Promise<void> {
    if (to !== this.ref.id && (await this.deps.store.blocks(to, this.ref.id))) {
      throw new ForbiddenError(`${to} does not take messages from you`);
    }
  }

  async #sendPrivate(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    await this.#charge('send');
    await this.#requireNotBlockedBy(to);
    // USER_OFFLINE when `to` has no socket, also while its presence grace runs.
    const recipient = await this.deps.directory.reachableRef(to);
    if (recipient === undefined) throw new UserOfflineError(to);
    const message = createMessage('private_chat', { sender: this.ref, recipient, content });
    // Live 1:1 chat keeps no history: the send record is its only write.
    if (clientMsgId !== undefined) {
      await this.deps.store.recordSend(sendRecord(this.ref.id, clientMsgId, message));
    }
    this.deps.delivery.toUsers([this.ref.id, recipient.id], message);
    return { message };
  }

  async #sendMemo(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    await this.#charge('send');
    await this.#requireNotBlockedBy(to);
    const { store, delivery, directory } = this.deps;
    return sendMemo({ store, delivery, recipients: directory }, this.ref, to, content, clientMsgId);
  }

  // ---- job bodies: rooms --------------------------------------------------------------------

  async #createRoom(input: RoomCreateInput): Promise<ClientEventResult<'room:create'>> {
    await this.#charge('activity');
    this.#requireRoomSlot(input.roomId);
    return this.deps.rooms.create(this.ref, input);
  }

  async #joinRoom(roomId: string, since: number | undefined): Promise<RoomJoinResult> {
    const already = this.#rooms.has(roomId);
    // Joining a room one is in changes nothing and costs nothing.
    if (!already) await this.#charge('activity');
    const room = await this.deps.rooms.resolve(roomId); // NOT_FOUND comes before FORBIDDEN
    if (!already) this.#requireRoomSlot(roomId);
    return room.join(this.ref, since === undefined ? {} : { since });
  }

  async #leaveRoom(roomId: string): Promise<void> {
    // Leaving a room one is not in changes nothing and costs nothing.
    if (this.#rooms.has(roomId)) await this.#charge('activity');
    return (await this.deps.rooms.resolve(roomId)).leave(this.ref);
  }

  #noteJoined(roomId: string): void {
    if (this.#phase === 'offline') {
      // The join raced with going offline: leave again.
      this.#leaveWhenGone(roomId);
      return;
    }
    this.#rooms.add(roomId);
  }

  #leaveWhenGone(roomId: string): void {
    this.deps.rooms
      .resolve(roomId)
      .then((room) => room.leave(this.ref))
      .catch((error: unknown) => {
        // A room closed meanwhile has no member left to leave.
        if (error instanceof RoomNotFoundError) return;
        logger.warn(`user ${this.ref.id} could not leave room ${roomId}: ${String(error)}`);
      });
  }

  /** MAX_ROOMS_PER_USER: checked at join, so tabs joining at once may pass it by a few. */
  #requireRoomSlot(roomId: string): void {
    const max = this.deps.settings.maxRoomsPerUser;
    if (this.#rooms.has(roomId) || this.#rooms.size < max) return;
    throw new ForbiddenError(`you are in ${max} rooms, the most allowed: leave one first`);
  }

  // ---- rates ----------------------------------------------------------------------------

  /**
   * Takes a token of the user's rate of `kind` (RATE_LIMITED when there is none): sends
   * (room:message, private:message, memo:send together); activity (joins and leaves that change
   * membership, room creations, invitations, typing: each reaches every member, and joins and
   * leaves are stored); moderation (kicks and mutes). Buckets of their own, so the message burst
   * stays whole. In cluster mode they count every instance.
   */
  #charge(kind: RateKind): Promise<void> | undefined {
    const shared = this.deps.sharedRates;
    if (shared !== undefined) return shared.take(this.ref.id, kind);
    const waitMs = this.#bucket(kind).take();
    if (waitMs > 0) throw new RateLimitedError(waitMs, kind === 'activity' ? ACTIVITY : undefined);
    return undefined;
  }

  #bucket(kind: RateKind): TokenBucket {
    const settings = this.deps.settings;
    switch (kind) {
      case 'send':
        return (this.#sendBucket ??= new TokenBucket(
          settings.rateLimitBurst,
          settings.rateLimitPerSecond,
        ));
      case 'activity':
        return (this.#activityBucket ??= new TokenBucket(
          settings.activityRateBurst,
          settings.activityRatePerSecond,
        ));
      case 'moderation':
        // With the send limits.
        return (this.#moderationBucket ??= new TokenBucket(
          settings.rateLimitBurst,
          settings.rateLimitPerSecond,
        ));
    }
  }
}

const ACTIVITY = 'joins, leaves, invitations and typing';

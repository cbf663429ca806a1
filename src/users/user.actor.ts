import { Logger } from '@nestjs/common';
import type {
  ClientEventResult,
  RoomCreateInput,
  RoomJoinResult,
  UserRef,
} from '../contract/events.js';
import { ForbiddenError, RateLimitedError, UserOfflineError } from '../contract/errors.js';
import { createMessage } from '../contract/messages.js';
import { TokenBucket } from '../common/token-bucket.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { Actor, type Dispatcher, type TimerHandle } from '../dispatcher/index.js';
import type { RoomsService } from '../rooms/rooms.service.js';
import { sendRecord, type MessageStore } from '../store/message-store.js';
import {
  MemoOutbox,
  sendMemo,
  type MemoDeletions,
  type MemoOutboxSettings,
  type MemoRecipients,
} from './memos.js';
import { SendLedger, type SendResult } from './send-ledger.js';

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
  online(user: UserRef): void;
  /** Whether presence goes to every online user now, or only to the subject (at scale). */
  broadcastsPresence(): boolean;
  /** Whether the user has at least one socket now (false during presence grace). */
  reachable(user: UserRef, reachable: boolean): void;
  /** The user went offline (its rooms are left already). */
  offline(user: UserRef): void;
  /** The actor stopped for good; a later connect gets a fresh actor. */
  retired(actor: UserActor): void;
  /** A socket reached an actor that had already retired: connect it afresh. */
  reconnect(socketId: string, user: UserRef): void;
}

/** The rooms a user actor acts on: looked up by id (NOT_FOUND), or made (room:create). */
export type RoomDirectory = Pick<RoomsService, 'get' | 'find' | 'create'>;

export interface UserActorDeps {
  dispatcher: Dispatcher;
  delivery: DeliveryService;
  store: MessageStore;
  rooms: RoomDirectory;
  directory: UserDirectory;
  /** Shared by every user's outbox (see MemoDeletions). */
  memoDeletions: MemoDeletions;
  settings: UserSettings;
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
  /** Whether everyone was told of this user's connect: then everyone hears of its disconnect. */
  #announcedToEveryone = false;
  #grace: TimerHandle | undefined;
  #idleScan: TimerHandle | undefined;
  readonly #sendBucket: TokenBucket;
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
    const { rateLimitBurst, rateLimitPerSecond } = deps.settings;
    this.#sendBucket = new TokenBucket(rateLimitBurst, rateLimitPerSecond);
    this.#ledger = new SendLedger(user.id, deps.store);
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
    return this.answer(() => {
      this.#chargeActivity();
      return this.deps.rooms.get(roomId).invite(this.ref.id, userId);
    });
  }

  typing(roomId: string): Promise<void> {
    return this.answer(() => {
      this.#chargeActivity();
      return this.deps.rooms.get(roomId).typing(this.ref);
    });
  }

  kick(roomId: string, userId: string): Promise<void> {
    return this.answer(() => {
      this.#chargeModeration();
      return this.deps.rooms.get(roomId).kick(this.ref.id, userId);
    });
  }

  mute(roomId: string, userId: string, seconds: number): Promise<{ mutedUntil?: string }> {
    return this.answer(() => {
      this.#chargeModeration();
      return this.deps.rooms.get(roomId).mute(this.ref.id, userId, seconds);
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
      this.deps.directory.online(this.ref);
      this.#announcedToEveryone = this.deps.directory.broadcastsPresence();
      this.#announce('user_connect', `${this.ref.name} connected`, this.#announcedToEveryone);
      this.#startIdleScan();
    }
    // Stored memos go to every socket that does not have them yet, this one included.
    this.#memos.flush();
  }

  #detach(socketId: string): void {
    if (!this.#sockets.delete(socketId) || this.#sockets.size > 0) return;
    this.deps.directory.reachable(this.ref, false);
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
    // Counted with the subject still online, as its connect was.
    const toEveryone = this.#announcedToEveryone || this.deps.directory.broadcastsPresence();
    // Membership lasts for the online session: every room is left, each with a room_leave.
    for (const roomId of this.#rooms) this.#leaveWhenGone(roomId);
    this.#rooms.clear();
    this.deps.directory.offline(this.ref);
    this.#announce('user_disconnect', `${this.ref.name} disconnected`, toEveryone);
    this.stop();
    this.deps.directory.retired(this);
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

  // ---- job bodies: sends --------------------------------------------------------------------

  /**
   * Runs `send` once per `clientMsgId` (SendLedger): a retry gets the first answer. `send`
   * queues the work on this actor, where the rate is checked.
   */
  #once(clientMsgId: string | undefined, send: () => Promise<SendResult>): Promise<SendResult> {
    if (clientMsgId === undefined) return send();
    return this.answer(() => this.#ledger.once(clientMsgId, send));
  }

  #postToRoom(roomId: string, content: string, clientMsgId?: string): Promise<SendResult> {
    this.#chargeSend();
    return this.deps.rooms
      .get(roomId)
      .post(this.ref, content, clientMsgId)
      .then((message) => ({ message }));
  }

  #sendPrivate(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    this.#chargeSend();
    // USER_OFFLINE when `to` has no socket, also while its presence grace runs.
    const recipient = this.deps.directory.reachableRef(to);
    if (recipient === undefined) throw new UserOfflineError(to);
    const message = createMessage('private_chat', { sender: this.ref, recipient, content });
    // Live 1:1 chat keeps no history: the send record is its only write.
    const recorded =
      clientMsgId === undefined
        ? Promise.resolve()
        : this.deps.store.recordSend(sendRecord(this.ref.id, clientMsgId, message));
    return recorded.then(() => {
      this.deps.delivery.toUsers([this.ref.id, recipient.id], message);
      return { message };
    });
  }

  #sendMemo(to: string, content: string, clientMsgId?: string): Promise<SendResult> {
    this.#chargeSend();
    const { store, delivery, directory } = this.deps;
    return sendMemo({ store, delivery, recipients: directory }, this.ref, to, content, clientMsgId);
  }

  // ---- job bodies: rooms --------------------------------------------------------------------

  #createRoom(input: RoomCreateInput): Promise<ClientEventResult<'room:create'>> {
    this.#chargeActivity();
    this.#requireRoomSlot(input.roomId);
    return this.deps.rooms.create(this.ref, input);
  }

  #joinRoom(roomId: string, since: number | undefined): Promise<RoomJoinResult> {
    const already = this.#rooms.has(roomId);
    // Joining a room one is in changes nothing and costs nothing.
    if (!already) this.#chargeActivity();
    const room = this.deps.rooms.get(roomId); // an unknown room is NOT_FOUND before FORBIDDEN
    if (!already) this.#requireRoomSlot(roomId);
    return room.join(this.ref, since === undefined ? {} : { since });
  }

  #leaveRoom(roomId: string): Promise<void> {
    // Leaving a room one is not in changes nothing and costs nothing.
    if (this.#rooms.has(roomId)) this.#chargeActivity();
    return this.deps.rooms.get(roomId).leave(this.ref);
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
      .find(roomId)
      ?.leave(this.ref)
      .catch((error: unknown) =>
        logger.warn(`user ${this.ref.id} could not leave room ${roomId}: ${String(error)}`),
      );
  }

  /** MAX_ROOMS_PER_USER: checked at join, so tabs joining at once may pass it by a few. */
  #requireRoomSlot(roomId: string): void {
    const max = this.deps.settings.maxRoomsPerUser;
    if (this.#rooms.has(roomId) || this.#rooms.size < max) return;
    throw new ForbiddenError(`you are in ${max} rooms, the most allowed: leave one first`);
  }

  // ---- rates --------------------------------------------------------------------------------

  /** room:message, private:message, memo:send together. */
  #chargeSend(): void {
    const waitMs = this.#sendBucket.take();
    if (waitMs > 0) throw new RateLimitedError(waitMs);
  }

  /**
   * Joins and leaves that change membership, room creations, invitations and typing: each
   * reaches every member, and joins and leaves are stored. A bucket of its own, so the
   * message burst stays whole.
   */
  #chargeActivity(): void {
    const { activityRateBurst, activityRatePerSecond } = this.deps.settings;
    this.#activityBucket ??= new TokenBucket(activityRateBurst, activityRatePerSecond);
    const waitMs = this.#activityBucket.take();
    if (waitMs > 0) throw new RateLimitedError(waitMs, 'joins, leaves, invitations and typing');
  }

  /** Kicks and mutes reach every member: a bucket of their own, with the send limits. */
  #chargeModeration(): void {
    const { rateLimitBurst, rateLimitPerSecond } = this.deps.settings;
    this.#moderationBucket ??= new TokenBucket(rateLimitBurst, rateLimitPerSecond);
    const waitMs = this.#moderationBucket.take();
    if (waitMs > 0) throw new RateLimitedError(waitMs);
  }
}

import { Logger } from '@nestjs/common';
import type {
  ChatMessage,
  RoomHistoryResult,
  RoomJoinResult,
  UserRef,
} from '../contract/events.js';
import {
  ForbiddenError,
  MessageNotFoundError,
  NotMemberError,
  RoomMovedError,
  RoomNotFoundError,
} from '../contract/errors.js';
import { createMessage } from '../contract/messages.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import {
  Actor,
  type Dispatcher,
  NotAcceptingError,
  type TimerHandle,
} from '../dispatcher/index.js';
import {
  sendRecord,
  type MessageState,
  type SendRecord,
  type MessageStore,
  type RoomFence,
  type RoomRecord,
} from '../store/message-store.js';
import { StaleOwnerError } from '../store/store-errors.js';
import { MessageStates } from './message-states.js';
import type { ReadStates } from './read-states.js';
import type { RoomHandle } from './room-handle.js';
import { RoomEventLog } from './room-event-log.js';
import { RoomMutes } from './room-mutes.js';

const logger = new Logger('RoomActor');

/** How many events a join without `since` returns. */
export const JOIN_RECENT_EVENTS = 50;
/** Most events in one recovery reply (`room:join` with `since`); `more` says there are others. */
export const JOIN_PAGE_EVENTS = 1000;
/** Default byte budget of one recovery reply. */
export const RECOVERY_BATCH_BYTES_DEFAULT = 262_144;
/** Most distinct emoji on one message. */
export const REACTIONS_MAX_EMOJI = 20;

/**
 * How a room tells the users' side of membership it decided (a join, a leave, a kick, a
 * close); the users' side implements it (UsersService), so rooms need nothing of users.
 */
export interface MembershipObserver {
  /** The user joined the room: false when it has no session any more (it then leaves again). */
  joined(userId: string, roomId: string): boolean;
  left(userId: string, roomId: string): void;
  /** Cluster mode: which of these users have a socket on some instance (a takeover asks). */
  stillOnline(userIds: readonly string[]): Promise<ReadonlySet<string>>;
}

export interface RoomActorDeps {
  dispatcher: Dispatcher;
  delivery: DeliveryService;
  store: MessageStore;
  membership: MembershipObserver;
  noticeIntervalMs: number;
  /** A room:join past this many members answers FORBIDDEN (no limit when absent). */
  maxMembers?: number;
  /** A room:invite past this many invitations answers FORBIDDEN (no limit when absent). */
  maxInvites?: number;
  /** Most bytes of events in one recovery reply; `more: true` tells the client to go on. */
  recoveryBatchBytes?: number;
  /** Users' read marks (room:read), group-committed for every room. */
  readStates: ReadStates;
  /** How long after a message its sender may edit it (EDIT_WINDOW_SECONDS). */
  editWindowMs: number;
  /** Read receipts go out in rooms of at most this many members; 0: never. */
  readReceiptsMaxMembers: number;
  /** The store keeps this many of the room's latest events (HISTORY_MAX_PER_ROOM). */
  historyMaxPerRoom: number;
  /**
   * Cluster mode: this instance owns the room with this fencing epoch, every write carries it,
   * and members are stored with the room. When a write finds a newer owner, `onLost` is told
   * and the room stops here (its commands go to the new owner).
   */
  ownership?: { epoch: number; onLost: (room: RoomActor) => void };
  /**
   * A room with a TTL closed itself after being empty that long (already closed: no member
   * got anything, it had none); `closed` settles once its deletion is written.
   */
  onExpired?: (room: RoomActor, closed: Promise<void>) => void;
}

export interface RoomSummaryView {
  id: string;
  name: string;
  members: number;
  private: boolean;
  /** Whether the asking user may see it in room:list. */
  visible: boolean;
}

/** What a room was made with; none of it changes in the room's life. */
export interface RoomSettings {
  id: string;
  name: string;
  private: boolean;
  owner?: string;
  ttlSeconds?: number;
}

export interface RoomSnapshot {
  id: string;
  name: string;
  members: string[];
}

export interface RoomStartState {
  lastSeq: number;
  invited: readonly string[];
  /** Cluster mode: the members stored with the room, when an instance takes it over. */
  members?: readonly UserRef[];
  /** Settles when the room's row is durable: the first broadcast waits for it. */
  ready: Promise<void>;
  /** Only when the row's write itself had to wait (a room of this id still closing). */
  writesAfter?: Promise<void>;
}

export interface JoinOptions {
  since?: number;
  /** Placed by the admin API: private rooms let it in, and it counts as an invitation. */
  byAdmin?: boolean;
}

/**
 * One room on its own serialized queue: members, owner, invitations and the room's seq.
 * Persisted events are pipelined: a job assigns the seq and hands the event to the store
 * without waiting; events are broadcast in seq order once durable, through `#delivered`.
 */
export class RoomActor extends Actor implements RoomHandle {
  readonly id: string;
  readonly #record: RoomRecord;
  /** The seq, the writes and the ordered broadcast of the room's persisted events. */
  readonly #log: RoomEventLog;
  readonly #members = new Map<string, UserRef>();
  readonly #invited: Set<string>;
  readonly #mutes = new RoomMutes();
  #closed = false;
  /** Cluster mode: another instance owns the room now; nothing more happens here. */
  #moved = false;
  /** Set once closed: settles when the room's deletion is written. */
  #closing: Promise<void> | undefined;
  /** Armed while a room with a TTL is empty; see #armExpiry. */
  #expiry: TimerHandle | undefined;
  /** Bumped on every arm and disarm, so an expiry already in the mailbox can tell it is stale. */
  #expiryGeneration = 0;
  /** The states of messages acted on lately (edits, deletions, reactions). */
  readonly #states = new MessageStates();
  /** Members' read marks as this room last set or read them. */
  readonly #reads = new Map<string, number>();
  /** Read marks of members still being written. */
  readonly #readWrites = new Map<string, Promise<void>>();

  constructor(
    record: RoomRecord,
    state: RoomStartState,
    private readonly deps: RoomActorDeps,
  ) {
    super(deps.dispatcher, { name: `room:${record.id}` });
    this.id = record.id;
    this.#record = { ...record };
    this.#invited = new Set(state.invited);
    for (const member of state.members ?? []) this.#members.set(member.id, member);
    this.#log = new RoomEventLog(
      record.id,
      state.lastSeq,
      deps.store,
      {
        // A stopped room (closed, or the service shutting down) has no turn to give: then at
        // once, as nothing numbers events any more.
        recoverInTurn: (recover) => {
          if (!this.enqueue(recover)) void recover();
        },
        recoverLater: (delayMs, recover) => {
          if (this.stopped) return false;
          this.enqueueAfter(delayMs, recover);
          return true;
        },
        deliverFound: (event) => deps.delivery.toRoom(this.id, event),
        ownerLost: () => this.#lostOwnership(),
      },
      state.ready,
      state.writesAfter,
    );
    if (deps.noticeIntervalMs > 0) this.every(deps.noticeIntervalMs, () => this.#heartbeat());
    // Every room starts empty (membership does not survive a restart): the countdown starts now.
    this.#armExpiry();
  }

  get isPrivate(): boolean {
    return this.#record.private;
  }

  /** Cluster mode: the fencing epoch this instance owns the room with. */
  get epoch(): number | undefined {
    return this.deps.ownership?.epoch;
  }

  /** The room's settings: fixed at creation, so readable outside the room's jobs. */
  get settings(): RoomSettings {
    return roomSettings(this.#record);
  }

  join(user: UserRef, options: JoinOptions = {}): Promise<RoomJoinResult> {
    return this.#request(() => this.#join(user, options));
  }

  leave(user: UserRef): Promise<void> {
    return this.#request(() => this.#leave(user));
  }

  /** Removed by the admin API: the user leaves and its invitation ends. */
  remove(user: UserRef): Promise<void> {
    return this.#request(() => {
      this.#requireOpen();
      return this.#remove(user, `${user.name} was removed from ${this.#record.name}`);
    });
  }

  /** The owner removes a user: as `remove`, refused to anyone else. */
  kick(byUserId: string, userId: string): Promise<void> {
    return this.#request(() => this.#kick(byUserId, userId));
  }

  /** The owner mutes a user for `seconds` (0 lifts it); answers when the mute ends. */
  mute(byUserId: string, userId: string, seconds: number): Promise<{ mutedUntil?: string }> {
    return this.#request(() => this.#mute(byUserId, userId, seconds));
  }

  invite(byUserId: string, userId: string): Promise<void> {
    return this.#request(() => this.#invite(byUserId, userId));
  }

  post(user: UserRef, content: string, clientMsgId?: string): Promise<ChatMessage> {
    return this.#request(() => this.#post(user, content, clientMsgId));
  }

  history(userId: string, before: number | undefined, limit: number): Promise<RoomHistoryResult> {
    return this.#request(() => this.#history(userId, before, limit));
  }

  /** room:edit: the sender changes its message's content, within the edit window. */
  edit(user: UserRef, seq: number, content: string, clientMsgId?: string): Promise<ChatMessage> {
    return this.#onMessage(seq, (state) => this.#edit(user, seq, state, content, clientMsgId));
  }

  /** room:delete by the sender or the owner; `byAdmin` (the admin API) by `system`, anywhere. */
  deleteMessage(by: UserRef, seq: number, byAdmin = false): Promise<ChatMessage> {
    return this.#onMessage(seq, (state) => this.#deleteMessage(by, seq, state, byAdmin));
  }

  /** room:react: `message` absent when nothing changed. */
  react(
    user: UserRef,
    seq: number,
    emoji: string,
    on: boolean,
  ): Promise<{ message?: ChatMessage }> {
    return this.#onMessage(seq, (state) => this.#react(user, seq, state, emoji, on));
  }

  /** room:read: moves the user's read mark forward (never back); answers the mark. */
  markRead(user: UserRef, seq: number): Promise<number> {
    return this.#holdingWhileLoading(async () => {
      this.#requireOpen();
      this.#requireMember(user.id);
      let lastRead = this.#reads.get(user.id);
      if (lastRead === undefined) {
        // Nothing sets it meanwhile: this job holds the mailbox while it reads.
        lastRead = await this.deps.readStates.markOf(this.id, user.id);
        this.#requireOpen();
        this.#requireMember(user.id);
        this.#reads.set(user.id, lastRead);
      }
      return { answer: this.#markRead(user, Math.min(seq, this.#log.lastSeq), lastRead) };
    });
  }

  typing(user: UserRef): Promise<void> {
    return this.#request(() => {
      this.#requireMember(user.id);
      this.deps.delivery.typing(this.id, { roomId: this.id, user });
    });
  }

  notice(content: string): Promise<void> {
    return this.#request(() => this.#notice(content));
  }

  summary(forUserId: string | undefined): Promise<RoomSummaryView> {
    return this.#request(() => ({
      id: this.id,
      name: this.#record.name,
      members: this.#members.size,
      private: this.#record.private,
      visible: !this.#record.private || (forUserId !== undefined && this.#members.has(forUserId)),
    }));
  }

  snapshot(): Promise<RoomSnapshot> {
    return this.#request(() => ({
      id: this.id,
      name: this.#record.name,
      members: [...this.#members.keys()],
    }));
  }

  /** Everyone leaves (each gets room_leave), then the room and its history are gone. */
  close(): Promise<void> {
    return this.#request(() => this.#close());
  }

  // ---- job bodies -------------------------------------------------------------------------

  #join(user: UserRef, { since, byAdmin = false }: JoinOptions): Promise<RoomJoinResult> {
    this.#requireOpen();
    const already = this.#members.has(user.id);
    if (!already && this.#record.private && !byAdmin && !this.#mayEnter(user.id)) {
      throw new ForbiddenError(`room ${this.id} is private: an invitation is needed`);
    }
    const { maxMembers = Infinity } = this.deps;
    // The admin API may place more: a game server's match is sized by the game server.
    if (!already && !byAdmin && this.#members.size >= maxMembers) {
      throw new ForbiddenError(`room ${this.id} is full (${maxMembers} members)`);
    }
    let invited: Promise<void> | undefined;
    if (byAdmin && this.#record.private && !this.#invited.has(user.id)) {
      this.#invited.add(user.id);
      invited = this.#written(this.deps.store.addInvite(this.id, user.id, this.#fence()));
    }
    let durable = this.#log.settled();
    if (!already) {
      this.#log.requireAvailable();
      this.#members.set(user.id, user);
      this.#disarmExpiry();
      const event = this.#event('room_join', user, `${user.name} joined ${this.#record.name}`);
      durable = this.#log.append(
        event,
        undefined,
        () => {
          this.deps.delivery.joinChannel(user.id, this.id);
          this.deps.delivery.toRoom(this.id, event);
        },
        // A join that was never stored never happened: the joiner gets the error, not a seat.
        () => this.enqueue(() => this.#undoJoin(user)),
        this.#fence({ userId: user.id, name: user.name, joined: true }),
      );
      // The user actor keeps the rooms it is in; if it is already gone, leave again.
      if (!this.deps.membership.joined(user.id, this.id)) this.enqueue(() => this.#leave(user));
    }
    const upTo = this.#log.lastSeq;
    const room = { id: this.id, name: this.#record.name, members: [...this.#members.values()] };
    return Promise.all([durable, invited]).then(() => this.#joinEvents(room, user.id, since, upTo));
  }

  /** The join reply's events: the latest, or those after `since` in pages of bounded size. */
  async #joinEvents(
    room: RoomJoinResult['room'],
    joinerId: string,
    since: number | undefined,
    upTo: number,
  ): Promise<RoomJoinResult> {
    const { store, recoveryBatchBytes = RECOVERY_BATCH_BYTES_DEFAULT } = this.deps;
    const [page, readStates] = await Promise.all([
      since === undefined
        ? store.roomPage(this.id, { before: upTo + 1, limit: JOIN_RECENT_EVENTS }, joinerId)
        : store.roomPage(
            this.id,
            {
              after: since,
              upTo,
              budget: { limit: JOIN_PAGE_EVENTS, maxBytes: recoveryBatchBytes },
            },
            joinerId,
          ),
      this.deps.readStates.of(joinerId, [this.id]),
    ]);
    const { lastRead, unread } = readStates.get(this.id) ?? { lastRead: 0, unread: 0 };
    const result: RoomJoinResult = {
      room,
      messages: page.events,
      complete: page.complete,
      asOf: page.asOf,
      lastRead,
      unread,
    };
    if (page.more) result.more = true;
    return result;
  }

  #undoJoin(user: UserRef): void {
    if (this.#closed || this.#members.get(user.id) !== user) return;
    this.#members.delete(user.id);
    this.deps.membership.left(user.id, this.id);
    this.#armExpiry();
  }

  #leave(user: UserRef, content = `${user.name} left ${this.#record.name}`): Promise<void> {
    if (this.#closed || !this.#members.delete(user.id)) return Promise.resolve();
    this.#reads.delete(user.id);
    this.#armExpiry();
    this.deps.membership.left(user.id, this.id);
    if (!this.#log.available) {
      // Whoever asks to leave leaves; with the store unreadable there is no event to number.
      this.deps.delivery.leaveChannel(user.id, this.id);
      return Promise.resolve();
    }
    const event = this.#event('room_leave', user, content);
    return this.#log.append(
      event,
      undefined,
      () => {
        // To the channel first, so the leaver gets its own room_leave.
        this.deps.delivery.toRoom(this.id, event);
        this.deps.delivery.leaveChannel(user.id, this.id);
      },
      // Not a member any more, stored event or not: its sockets stop hearing the room.
      () => this.deps.delivery.leaveChannel(user.id, this.id),
      this.#fence({ userId: user.id, name: user.name, joined: false }),
    );
  }

  #invite(byUserId: string, userId: string): Promise<void> | void {
    this.#requireOpen();
    if (this.#record.owner !== byUserId) {
      throw new ForbiddenError(`only the owner of room ${this.id} may invite`);
    }
    if (!this.#record.private || this.#invited.has(userId)) return;
    const { maxInvites = Infinity } = this.deps;
    if (this.#invited.size >= maxInvites) {
      throw new ForbiddenError(
        `room ${this.id} has ${maxInvites} invitations, the most allowed: kick someone first`,
      );
    }
    this.#invited.add(userId);
    return this.#written(this.deps.store.addInvite(this.id, userId, this.#fence()));
  }

  #remove(user: UserRef, content: string): Promise<void> {
    const revoked = this.#invited.delete(user.id)
      ? this.#written(this.deps.store.removeInvite(this.id, user.id, this.#fence()))
      : undefined;
    return Promise.all([revoked, this.#leave(user, content)]).then(() => undefined);
  }

  #kick(byUserId: string, userId: string): Promise<void> {
    this.#requireOpen();
    this.#requireModerator(byUserId, userId, 'kick');
    const user = this.#members.get(userId) ?? { id: userId, name: userId };
    return this.#remove(user, `${user.name} was kicked from ${this.#record.name}`);
  }

  #mute(byUserId: string, userId: string, seconds: number): { mutedUntil?: string } {
    this.#requireOpen();
    this.#requireModerator(byUserId, userId, 'mute');
    // Mutes are kept for members and invitees only, so they stay as few as the room's people.
    if (seconds > 0 && !this.#members.has(userId) && !this.#invited.has(userId)) {
      throw new ForbiddenError(`only members and invitees of room ${this.id} can be muted`);
    }
    const name = this.#members.get(userId)?.name ?? userId;
    if (seconds === 0) {
      if (this.#mutes.lift(userId)) this.#announce(`${name} may speak again`);
      return {};
    }
    const until = this.#mutes.mute(userId, seconds);
    this.#announce(`${name} was muted for ${seconds} s`);
    return { mutedUntil: new Date(until).toISOString() };
  }

  #post(user: UserRef, content: string, clientMsgId: string | undefined): Promise<ChatMessage> {
    this.#requireOpen();
    this.#requireNotMuted(user.id);
    this.#requireMember(user.id);
    this.#log.requireAvailable();
    const message = createMessage('room_chat', {
      roomId: this.id,
      seq: this.#log.nextSeq(),
      sender: user,
      content,
    });
    const send = clientMsgId === undefined ? undefined : sendRecord(user.id, clientMsgId, message);
    return this.#log
      .append(
        message,
        send,
        () => this.deps.delivery.toRoom(this.id, message),
        undefined,
        this.#fence(),
      )
      .then(() => message);
  }

  #history(userId: string, before: number | undefined, limit: number): Promise<RoomHistoryResult> {
    this.#requireOpen();
    this.#requireMember(userId);
    const bound = Math.min(before ?? Number.MAX_SAFE_INTEGER, this.#log.lastSeq + 1);
    return this.#log
      .settled()
      .then(() => this.deps.store.roomPage(this.id, { before: bound, limit }, userId))
      .then((page) => ({ messages: page.events, asOf: page.asOf }));
  }

  #edit(
    user: UserRef,
    target: number,
    state: MessageState | undefined,
    content: string,
    clientMsgId: string | undefined,
  ): Promise<ChatMessage> {
    this.#requireMessage(target, state);
    if (state.sender !== user.id) {
      throw new ForbiddenError('only the sender of a message may edit it');
    }
    if (Date.now() - state.sentAt > this.deps.editWindowMs) {
      throw new ForbiddenError(
        `messages may be edited for ${this.deps.editWindowMs / 1000} s after they were sent`,
      );
    }
    this.#requireNotMuted(user.id);
    this.#requireMember(user.id);
    const edit = this.#targetEvent('room_edit', user, target, { content });
    const send = clientMsgId === undefined ? undefined : sendRecord(user.id, clientMsgId, edit);
    return this.#appendTargetEvent(edit, send);
  }

  #deleteMessage(
    by: UserRef,
    target: number,
    state: MessageState | undefined,
    byAdmin: boolean,
  ): Promise<ChatMessage> {
    this.#requireMessage(target, state);
    if (!byAdmin) {
      if (state.sender !== by.id && this.#record.owner !== by.id) {
        throw new ForbiddenError('only the sender or the room owner may delete a message');
      }
      this.#requireMember(by.id);
    }
    const deletion = this.#targetEvent('room_delete', by, target, {});
    const appended = this.#appendTargetEvent(deletion);
    state.deleted = true;
    state.reactions.clear();
    return appended;
  }

  #react(
    user: UserRef,
    target: number,
    state: MessageState | undefined,
    emoji: string,
    on: boolean,
  ): Promise<{ message?: ChatMessage }> | { message?: ChatMessage } {
    this.#requireMessage(target, state);
    const users = state.reactions.get(emoji);
    if (on && users === undefined && state.reactions.size >= REACTIONS_MAX_EMOJI) {
      throw new ForbiddenError(`a message holds at most ${REACTIONS_MAX_EMOJI} different emoji`);
    }
    this.#requireNotMuted(user.id);
    this.#requireMember(user.id);
    // Stored only when it changes something.
    if ((users?.has(user.id) ?? false) === on) return {};
    const reaction = this.#targetEvent('room_reaction', user, target, { emoji, on, user });
    const appended = this.#appendTargetEvent(reaction);
    if (on) {
      if (users === undefined) state.reactions.set(emoji, new Set([user.id]));
      else users.add(user.id);
    } else {
      users?.delete(user.id);
      if (users?.size === 0) state.reactions.delete(emoji);
    }
    return appended.then((message) => ({ message }));
  }

  #markRead(user: UserRef, seq: number, lastRead: number): Promise<number> {
    if (seq <= lastRead) {
      // Never back; answered once the mark it reports is durable (failing if it was not).
      return (this.#readWrites.get(user.id) ?? Promise.resolve()).then(() => lastRead);
    }
    this.#reads.set(user.id, seq);
    const written = this.deps.readStates.save({ roomId: this.id, userId: user.id, seq });
    this.#readWrites.set(user.id, written);
    return written.then(
      () => {
        if (this.#readWrites.get(user.id) === written) this.#readWrites.delete(user.id);
        const { readReceiptsMaxMembers } = this.deps;
        if (!this.#closed && this.#members.size <= readReceiptsMaxMembers) {
          this.deps.delivery.readReceipt({ roomId: this.id, user, seq });
        }
        return seq;
      },
      (error: unknown) => {
        if (this.#readWrites.get(user.id) === written) this.#readWrites.delete(user.id);
        // Not stored: read the mark again next time.
        this.enqueue(() => {
          if (this.#reads.get(user.id) === seq) this.#reads.delete(user.id);
        });
        throw error;
      },
    );
  }

  /** A notice nobody waits for: a failure (the room's row never stored) is only logged. */
  #announce(content: string): void {
    if (this.#closed) return;
    this.#notice(content).catch((error: unknown) =>
      logger.warn(`notice in room ${this.id} not sent: ${String(error)}`),
    );
  }

  #notice(content: string): Promise<void> {
    this.#requireOpen();
    const notice = createMessage('room_notice', { roomId: this.id, content });
    // Behind every event already handed to the store, so it never overtakes one.
    return this.#log.chain(() => this.deps.delivery.toRoom(this.id, notice));
  }

  #heartbeat(): void {
    if (this.#closed || this.#members.size === 0) return;
    const count = this.#members.size;
    this.#announce(`${count} ${count === 1 ? 'member is' : 'members are'} here`);
  }

  #close(): Promise<void> {
    // A close queued before the room expired answers with that one.
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#disarmExpiry();
    const leaves = [...this.#members.values()].map((user) => {
      this.deps.membership.left(user.id, this.id);
      return this.#event('room_leave', user, `${user.name} left: ${this.#record.name} was closed`);
    });
    this.#members.clear();
    this.#reads.clear();
    this.stop();
    this.#log.abandon();
    this.#closing = this.#log
      .chain(() => {
        for (const leave of leaves) this.deps.delivery.toRoom(this.id, leave);
        this.deps.delivery.closeChannel(this.id);
      })
      // Read marks still being written go first: none may outlive the room.
      .then(() => Promise.allSettled(this.#readWrites.values()))
      .then(() => this.#written(this.deps.store.deleteRoom(this.id, this.#fence())));
    return this.#closing;
  }

  /**
   * A room with a TTL closes once it has been empty that long: armed when the room starts
   * and whenever its last member leaves, disarmed when someone joins.
   */
  #armExpiry(): void {
    const ttlSeconds = this.#record.ttlSeconds;
    if (ttlSeconds === undefined || this.#closed || this.#members.size > 0) return;
    this.#disarmExpiry();
    const generation = this.#expiryGeneration;
    this.#expiry = this.enqueueAfter(ttlSeconds * 1000, () => this.#expire(generation));
  }

  #disarmExpiry(): void {
    this.#expiryGeneration++;
    this.#expiry?.cancel();
    this.#expiry = undefined;
  }

  #expire(generation: number): void {
    // Stale: someone joined (and maybe left, re-arming) after this job was queued.
    if (generation !== this.#expiryGeneration || this.#closed || this.#members.size > 0) return;
    this.#expiry = undefined;
    const closed = this.#close();
    this.deps.onExpired?.(this, closed);
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** A persisted-kind event with the next seq. */
  #event(type: 'room_join' | 'room_leave', user: UserRef, content: string): ChatMessage {
    return createMessage(type, { roomId: this.id, seq: this.#log.nextSeq(), user, content });
  }

  /** A v2 event on the room_chat at `target`. */
  #targetEvent(
    type: 'room_edit' | 'room_delete' | 'room_reaction',
    sender: UserRef,
    target: number,
    fields: { content?: string; emoji?: string; on?: boolean; user?: UserRef },
  ): ChatMessage {
    this.#log.requireAvailable();
    return createMessage(type, {
      roomId: this.id,
      seq: this.#log.nextSeq(),
      sender,
      content: fields.content ?? '',
      target,
      ...(fields.user === undefined ? {} : { user: fields.user }),
      ...(fields.emoji === undefined ? {} : { emoji: fields.emoji, on: fields.on }),
    });
  }

  /**
   * Appends a v2 event; the target's state stays kept until the store answers, and is read
   * again from the store if the event turns out not stored.
   */
  #appendTargetEvent(event: ChatMessage, send?: SendRecord): Promise<ChatMessage> {
    const target = event.target as number;
    const release = this.#states.hold(target);
    const appended = this.#log.append(
      event,
      send,
      () => this.deps.delivery.toRoom(this.id, event),
      () => this.enqueue(() => this.#states.forget(target)),
      this.#fence(),
    );
    void appended.then(release, release);
    return appended.then(() => event);
  }

  /**
   * Runs `act` in a job of the room with the state of the message at `seq` (undefined when it
   * is not a retained room_chat); a state the room does not have is read from the store while
   * the job holds the mailbox, so two acts on one message never decide on the same state.
   */
  #onMessage<T>(seq: number, act: (state: MessageState | undefined) => T | Promise<T>): Promise<T> {
    return this.#holdingWhileLoading(async () => {
      this.#requireOpen();
      const state = await this.#messageState(seq);
      return { answer: act(state) };
    });
  }

  async #messageState(seq: number): Promise<MessageState | undefined> {
    const retainedFrom = this.#log.lastSeq - this.deps.historyMaxPerRoom + 1;
    if (seq > this.#log.lastSeq || seq < retainedFrom) {
      this.#states.forgetUpTo(retainedFrom - 1);
      return undefined;
    }
    const kept = this.#states.get(seq);
    if (kept !== undefined) return kept;
    // A log waiting for its store has no truth to read yet (and its recovery is a job of
    // this room: waiting for it here would wait for ever).
    this.#log.requireAvailable();
    // Every write handed to the store so far is answered: a message just sent is there to read.
    await this.#log.answered();
    const stored = await this.deps.store.messageState(this.id, seq);
    this.#requireOpen();
    if (stored !== undefined) this.#states.keep(seq, stored);
    return stored;
  }

  /**
   * Queues a job that holds the mailbox while it reads (the store), then answers without
   * holding it while what it started (a write) completes.
   */
  #holdingWhileLoading<T>(job: () => Promise<{ answer: T | Promise<T> }>): Promise<T> {
    // The answer is wrapped: a promise returned as is would hold the mailbox until it settles.
    return this.ask(job)
      .then(({ answer }) => answer)
      .catch((error: unknown) => {
        if (error instanceof NotAcceptingError && this.stopped) {
          throw this.#moved ? new RoomMovedError(this.id) : new RoomNotFoundError(this.id);
        }
        throw error;
      });
  }

  #requireMessage(seq: number, state: MessageState | undefined): asserts state is MessageState {
    if (state === undefined || state.deleted) throw new MessageNotFoundError(this.id, seq);
  }

  #mayEnter(userId: string): boolean {
    return this.#record.owner === userId || this.#invited.has(userId);
  }

  #requireOpen(): void {
    if (this.#moved) throw new RoomMovedError(this.id);
    if (this.#closed) throw new RoomNotFoundError(this.id);
  }

  /** Cluster mode: what each write carries (the owner's epoch, the member it changes). */
  #fence(member?: RoomFence['member']): RoomFence | undefined {
    const ownership = this.deps.ownership;
    if (ownership === undefined) return undefined;
    return member === undefined ? { epoch: ownership.epoch } : { epoch: ownership.epoch, member };
  }

  /** A write of the room; one refused for a newer owner means the room has moved. */
  #written(write: Promise<void>): Promise<void> {
    write.catch((error: unknown) => {
      if (error instanceof StaleOwnerError) this.enqueue(() => this.#lostOwnership());
    });
    return write;
  }

  /** Another instance owns the room now: stop here; its commands go there from now on. */
  #lostOwnership(): void {
    if (this.#moved || this.#closed) return;
    this.#moved = true;
    this.#disarmExpiry();
    this.stop();
    this.#log.abandon();
    logger.warn(`room ${this.id} moved to another instance: this one stops serving it`);
    this.deps.ownership?.onLost(this);
  }

  /** Stops serving the room here because this instance gave it up (a clean stop, a lost lease). */
  release(): void {
    this.enqueue(() => this.#lostOwnership());
  }

  /** Only the owner moderates, and not itself. */
  #requireModerator(byUserId: string, userId: string, action: string): void {
    if (this.#record.owner !== byUserId) {
      throw new ForbiddenError(`only the owner of room ${this.id} may ${action}`);
    }
    if (userId === byUserId) throw new ForbiddenError(`the owner cannot ${action} itself`);
  }

  #requireNotMuted(userId: string): void {
    const until = this.#mutes.mutedUntil(userId);
    if (until === undefined) return;
    throw new ForbiddenError(
      `you are muted in room ${this.id} until ${new Date(until).toISOString()}`,
    );
  }

  #requireMember(userId: string): void {
    if (!this.#members.has(userId)) throw new NotMemberError(this.id);
  }

  /** Queues a job whose answer may settle later; a stopped room answers NOT_FOUND. */
  #request<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.answer(fn).catch((error: unknown) => {
      if (error instanceof NotAcceptingError && this.stopped) {
        throw this.#moved ? new RoomMovedError(this.id) : new RoomNotFoundError(this.id);
      }
      throw error;
    });
  }
}

/** A room record's settings, `owner` and `ttlSeconds` only when it has them. */
export function roomSettings(record: RoomRecord): RoomSettings {
  const { id, name, private: isPrivate, owner, ttlSeconds } = record;
  const settings: RoomSettings = { id, name, private: isPrivate };
  if (owner !== undefined) settings.owner = owner;
  if (ttlSeconds !== undefined) settings.ttlSeconds = ttlSeconds;
  return settings;
}

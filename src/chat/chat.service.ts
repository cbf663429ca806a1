import { Inject, Injectable } from '@nestjs/common';
import type {
  ChatMessage,
  ClientEventInput,
  ClientEventResult,
  DirectMessageInput,
  UserRef,
} from '../contract/events.js';
import { BusyError, ForbiddenError, UserOfflineError } from '../contract/errors.js';
import { AppConfig } from '../config/app-config.js';
import { createMessage } from '../contract/messages.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MESSAGE_STORE, type MessageStore, type SendRecord } from '../store/message-store.js';
import type { SendOutcome } from '../users/user.actor.js';
import { UsersService } from '../users/users.service.js';
import { HISTORY_LIMIT_DEFAULT } from './chat.schemas.js';

/**
 * What each client event does, for an authenticated user and a validated payload. Sends
 * go through the sender's user actor (rate limit, clientMsgId idempotency, order).
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly users: UsersService,
    private readonly rooms: RoomsService,
    private readonly delivery: DeliveryService,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly config: AppConfig,
  ) {}

  /** A socket authenticated as `user` connected (its user channel already joined). */
  connect(socketId: string, user: UserRef): void {
    this.users.connect(socketId, user);
  }

  disconnect(socketId: string, user: UserRef): void {
    this.users.disconnect(socketId, user.id);
  }

  async listRooms(user: UserRef): Promise<ClientEventResult<'room:list'>> {
    return { rooms: await this.rooms.list(user.id) };
  }

  async createRoom(user: UserRef, input: ClientEventInput<'room:create'>) {
    await this.#chargeActivity(user, { join: input.roomId });
    await this.#requireRoomSlot(user, input.roomId);
    return this.rooms.create(user, input);
  }

  async joinRoom(user: UserRef, input: ClientEventInput<'room:join'>) {
    await this.#chargeActivity(user, { join: input.roomId });
    this.rooms.get(input.roomId); // an unknown room is NOT_FOUND before any FORBIDDEN
    await this.#requireRoomSlot(user, input.roomId);
    return this.rooms.join(user, input.roomId, { since: input.since });
  }

  async leaveRoom(user: UserRef, input: ClientEventInput<'room:leave'>) {
    await this.#chargeActivity(user, { leave: input.roomId });
    await this.rooms.leave(user, input.roomId);
    return {};
  }

  async invite(user: UserRef, input: ClientEventInput<'room:invite'>) {
    await this.#chargeActivity(user);
    await this.rooms.invite(user.id, input.roomId, input.userId);
    return {};
  }

  async kick(user: UserRef, input: ClientEventInput<'room:kick'>) {
    await this.users.get(user.id)?.chargeModeration();
    await this.rooms.kick(user.id, input.roomId, input.userId);
    return {};
  }

  async mute(user: UserRef, input: ClientEventInput<'room:mute'>) {
    await this.users.get(user.id)?.chargeModeration();
    return this.rooms.mute(user.id, input.roomId, input.userId, input.seconds);
  }

  async roomMessage(user: UserRef, input: ClientEventInput<'room:message'>) {
    const { message } = await this.#send(user, input.clientMsgId, () =>
      this.rooms
        .post(user, input.roomId, input.content, input.clientMsgId)
        .then((stored) => ({ message: stored })),
    );
    return { message };
  }

  async history(user: UserRef, input: ClientEventInput<'room:history'>) {
    const limit = input.limit ?? HISTORY_LIMIT_DEFAULT;
    return { messages: await this.rooms.history(user.id, input.roomId, input.before, limit) };
  }

  async privateMessage(user: UserRef, input: DirectMessageInput) {
    const { message } = await this.#send(user, input.clientMsgId, () =>
      this.#deliverPrivate(user, input),
    );
    return { message };
  }

  async memo(user: UserRef, input: DirectMessageInput) {
    const outcome = await this.#send(user, input.clientMsgId, () => this.#sendMemo(user, input));
    return { message: outcome.message, delivered: outcome.delivered ?? false };
  }

  async typing(user: UserRef, input: ClientEventInput<'typing'>) {
    await this.#chargeActivity(user);
    await this.rooms.typing(user, input.roomId);
    return {};
  }

  listUsers(): ClientEventResult<'user:list'> {
    return { users: this.users.list() };
  }

  /** Joins, leaves, invitations and typing reach every member: a rate of their own. */
  async #chargeActivity(
    user: UserRef,
    change?: { join: string } | { leave: string },
  ): Promise<void> {
    await this.users.get(user.id)?.chargeActivity(change);
  }

  /** MAX_ROOMS_PER_USER: checked at join, so tabs joining at once may pass it by a few. */
  async #requireRoomSlot(user: UserRef, roomId: string): Promise<void> {
    const max = this.config.maxRoomsPerUser;
    const actor = this.users.get(user.id);
    if (actor !== undefined && !(await actor.hasRoomFor(roomId, max))) {
      throw new ForbiddenError(`you are in ${max} rooms, the most allowed: leave one first`);
    }
  }

  /** Any event counts as activity for the idle timeout. */
  touch(user: UserRef): void {
    this.users.touch(user.id);
  }

  // ---- sends --------------------------------------------------------------------------------

  async #send(
    user: UserRef,
    clientMsgId: string | undefined,
    perform: () => Promise<SendOutcome>,
  ): Promise<SendOutcome> {
    if (clientMsgId !== undefined) {
      const earlier = await this.store.findSend(user.id, clientMsgId);
      if (earlier !== undefined) return { message: earlier.message, delivered: earlier.delivered };
    }
    const actor = this.users.get(user.id);
    if (actor === undefined) throw new BusyError('your session is not ready yet: retry');
    return actor.send(clientMsgId, perform);
  }

  #deliverPrivate(from: UserRef, input: DirectMessageInput): Promise<SendOutcome> {
    // USER_OFFLINE when `to` has no socket, also while its presence grace runs.
    const recipient = this.users.reachableRef(input.to);
    if (recipient === undefined) throw new UserOfflineError(input.to);
    const message = createMessage('private_chat', {
      sender: from,
      recipient,
      content: input.content,
    });
    const recorded =
      input.clientMsgId === undefined
        ? Promise.resolve()
        : this.store.recordSend(sendRecord(from, input.clientMsgId, message));
    return recorded.then(() => {
      this.delivery.toUsers([from.id, recipient.id], message);
      return { message };
    });
  }

  /**
   * Every memo is stored first, then goes to the recipient's sockets through its outbox until
   * a socket has it (a socket can vanish with a memo in flight); `delivered` says whether the
   * recipient had a socket when it was sent.
   */
  #sendMemo(from: UserRef, input: DirectMessageInput): Promise<SendOutcome> {
    const online = this.users.reachableRef(input.to);
    const message = createMessage('instant_message', {
      sender: from,
      recipient: online ?? this.users.onlineRef(input.to) ?? { id: input.to, name: input.to },
      content: input.content,
    });
    const delivered = online !== undefined;
    const send =
      input.clientMsgId === undefined
        ? undefined
        : sendRecord(from, input.clientMsgId, message, delivered);
    return this.store.addMemo(message, send).then(() => {
      // The sender's own copy (its other tabs); the recipient's comes from its outbox.
      if (from.id !== input.to) this.delivery.toUsers([from.id], message);
      this.users.get(input.to)?.flushMemos();
      return { message, delivered };
    });
  }
}

function sendRecord(
  user: UserRef,
  clientMsgId: string,
  message: ChatMessage,
  delivered?: boolean,
): SendRecord {
  return delivered === undefined
    ? { userId: user.id, clientMsgId, message }
    : { userId: user.id, clientMsgId, message, delivered };
}

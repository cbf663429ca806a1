import { Injectable } from '@nestjs/common';
import type { ClientEventInput, ClientEventResult, UserRef } from '../contract/events.js';
import { BusyError, InvalidPayloadError } from '../contract/errors.js';
import { ReadStates } from '../rooms/read-states.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { UserActor } from '../users/user.actor.js';
import { UsersService } from '../users/users.service.js';
import { HISTORY_LIMIT_DEFAULT } from './chat.schemas.js';

/**
 * What each client event does, for an authenticated user and a validated payload: whatever
 * the user does goes to its user actor (rates, idempotency, order), which hands it to a room
 * actor or the store; reads go to the room or the directory. The reply's data comes back.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly users: UsersService,
    private readonly rooms: RoomsService,
    private readonly readStates: ReadStates,
  ) {}

  /** A socket authenticated as `user` connected (its user channel already joined). */
  connect(socketId: string, user: UserRef): void {
    this.users.connect(socketId, user);
  }

  disconnect(socketId: string, user: UserRef): void {
    this.users.disconnect(socketId, user.id);
  }

  /** Any event counts as activity for the idle timeout. */
  touch(user: UserRef): void {
    this.users.touch(user.id);
  }

  /** The rooms the user may see, each with the user's read state (one read for all). */
  async listRooms(user: UserRef): Promise<ClientEventResult<'room:list'>> {
    const rooms = await this.rooms.list(user.id);
    const states = await this.readStates.of(
      user.id,
      rooms.map((room) => room.id),
    );
    const none = { lastRead: 0, unread: 0 };
    return { rooms: rooms.map((room) => ({ ...room, ...(states.get(room.id) ?? none) })) };
  }

  createRoom(user: UserRef, input: ClientEventInput<'room:create'>) {
    return this.#actor(user).createRoom(input);
  }

  joinRoom(user: UserRef, input: ClientEventInput<'room:join'>) {
    return this.#actor(user).joinRoom(input.roomId, input.since);
  }

  async leaveRoom(user: UserRef, input: ClientEventInput<'room:leave'>) {
    await this.#actor(user).leaveRoom(input.roomId);
    return {};
  }

  async invite(user: UserRef, input: ClientEventInput<'room:invite'>) {
    await this.#actor(user).invite(input.roomId, input.userId);
    return {};
  }

  async kick(user: UserRef, input: ClientEventInput<'room:kick'>) {
    await this.#actor(user).kick(input.roomId, input.userId);
    return {};
  }

  mute(user: UserRef, input: ClientEventInput<'room:mute'>) {
    return this.#actor(user).mute(input.roomId, input.userId, input.seconds);
  }

  async typing(user: UserRef, input: ClientEventInput<'typing'>) {
    await this.#actor(user).typing(input.roomId);
    return {};
  }

  async roomMessage(user: UserRef, input: ClientEventInput<'room:message'>) {
    const { message } = await this.#actor(user).postToRoom(
      input.roomId,
      input.content,
      input.clientMsgId,
    );
    return { message };
  }

  async privateMessage(user: UserRef, input: ClientEventInput<'private:message'>) {
    const { message } = await this.#actor(user).sendPrivate(
      input.to,
      input.content,
      input.clientMsgId,
    );
    return { message };
  }

  async memo(user: UserRef, input: ClientEventInput<'memo:send'>) {
    const { message, delivered } = await this.#actor(user).sendMemo(
      input.to,
      input.content,
      input.clientMsgId,
    );
    return { message, delivered: delivered ?? false };
  }

  async history(user: UserRef, input: ClientEventInput<'room:history'>) {
    const limit = input.limit ?? HISTORY_LIMIT_DEFAULT;
    const room = await this.rooms.resolve(input.roomId);
    return room.history(user.id, input.before, limit);
  }

  async edit(user: UserRef, input: ClientEventInput<'room:edit'>) {
    const { roomId, seq, content, clientMsgId } = input;
    const { message } = await this.#actor(user).editMessage(roomId, seq, content, clientMsgId);
    return { message };
  }

  async deleteMessage(user: UserRef, input: ClientEventInput<'room:delete'>) {
    return { message: await this.#actor(user).deleteMessage(input.roomId, input.seq) };
  }

  react(user: UserRef, input: ClientEventInput<'room:react'>) {
    return this.#actor(user).react(input.roomId, input.seq, input.emoji, input.on ?? true);
  }

  async markRead(user: UserRef, input: ClientEventInput<'room:read'>) {
    return { lastRead: await this.#actor(user).markRead(input.roomId, input.seq) };
  }

  /** user:block (`on`) and user:unblock. */
  async block(user: UserRef, input: ClientEventInput<'user:block'>, on: boolean) {
    // A payload problem: INVALID_PAYLOAD comes before the rate.
    if (input.userId === user.id) throw new InvalidPayloadError('you cannot block yourself');
    await this.#actor(user).block(input.userId, on);
    return {};
  }

  async blocks(user: UserRef): Promise<ClientEventResult<'user:blocks'>> {
    return { users: await this.#actor(user).blockList() };
  }

  async listUsers(): Promise<ClientEventResult<'user:list'>> {
    return { users: await this.users.list() };
  }

  /** The user's actor: there from its socket's connect on, so missing only in a race. */
  #actor(user: UserRef): UserActor {
    const actor = this.users.get(user.id);
    if (actor === undefined) throw new BusyError('your session is not ready yet: retry');
    return actor;
  }
}

import { Injectable } from '@nestjs/common';
import { UserOfflineError } from '../contract/errors.js';
import type { RoomSnapshot } from '../rooms/room.actor.js';
import { type AdminRoomInput, type AdminRoomView, RoomsService } from '../rooms/rooms.service.js';
import type { UserSnapshot } from '../users/user.actor.js';
import { UsersService } from '../users/users.service.js';

export interface AdminSnapshot {
  users: UserSnapshot[];
  rooms: RoomSnapshot[];
}

/**
 * The admin commands, shared by the HTTP API (AdminController) and the Redis transport
 * (AdminRpcController). Inputs are already validated; refusals are ChatErrors
 * (NOT_FOUND, USER_OFFLINE, ALREADY_EXISTS, FORBIDDEN, BUSY) that each side maps.
 */
@Injectable()
export class AdminService {
  constructor(
    private readonly rooms: RoomsService,
    private readonly users: UsersService,
  ) {}

  async snapshot(): Promise<AdminSnapshot> {
    const [users, rooms] = await Promise.all([this.users.snapshot(), this.rooms.snapshot()]);
    return { users, rooms };
  }

  createRoom(input: AdminRoomInput): AdminRoomView {
    return this.rooms.createByAdmin(input);
  }

  putRoom(input: AdminRoomInput): { created: boolean; room: AdminRoomView } {
    return this.rooms.putByAdmin(input);
  }

  closeRoom(roomId: string): Promise<void> {
    return this.rooms.close(roomId);
  }

  /** An online user joins (placed by a game server); joining twice changes nothing. */
  async addMember(roomId: string, userId: string): Promise<void> {
    const room = this.rooms.get(roomId);
    const user = this.users.onlineRef(userId);
    if (user === undefined) throw new UserOfflineError(userId);
    await room.join(user, { byAdmin: true });
  }

  /** The user leaves and loses its invitation; not a member (or offline) is no error. */
  async removeMember(roomId: string, userId: string): Promise<void> {
    const room = this.rooms.get(roomId);
    await room.remove(this.users.onlineRef(userId) ?? { id: userId, name: userId });
  }

  notice(roomId: string, content: string): Promise<void> {
    return this.rooms.notice(roomId, content);
  }

  /** Closes every socket of the user; USER_OFFLINE when it has none. */
  disconnectUser(userId: string): void {
    if (!this.users.disconnectUser(userId)) throw new UserOfflineError(userId);
  }
}

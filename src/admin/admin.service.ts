import { Injectable } from '@nestjs/common';
import {
  RoomExistsError,
  RoomSettingsConflictError,
  UserOfflineError,
} from '../contract/errors.js';
import { SYSTEM_USER } from '../contract/events.js';
import type { RoomSnapshot } from '../rooms/room.actor.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { RoomRecord } from '../store/message-store.js';
import type { UserSnapshot } from '../users/user.actor.js';
import { UsersService } from '../users/users.service.js';
import {
  adminView,
  settingsDifferences,
  type AdminRoomInput,
  type AdminRoomView,
} from './admin-rooms.js';

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

  /** A room with no owner; ALREADY_EXISTS when the id is taken. */
  async createRoom(input: AdminRoomInput): Promise<AdminRoomView> {
    return adminView(await this.rooms.createRoom(roomSettings(input)));
  }

  /**
   * Safe to retry: creates the room (`created: true`) or confirms one that has exactly these
   * settings (`created: false`); other settings, or an owner, are a conflict. It tries to
   * create first, so of two racing PUTs one creates (201) and the other confirms (200).
   */
  async putRoom(input: AdminRoomInput): Promise<{ created: boolean; room: AdminRoomView }> {
    for (;;) {
      try {
        return { created: true, room: await this.createRoom(input) };
      } catch (error) {
        if (!(error instanceof RoomExistsError)) throw error;
      }
      const existing = await this.rooms.settingsOf(input.id);
      // Closed between the two: try again.
      if (existing === undefined) continue;
      const differences = settingsDifferences(existing, input);
      if (differences.length > 0) throw new RoomSettingsConflictError(input.id, differences);
      return { created: false, room: adminView(existing) };
    }
  }

  closeRoom(roomId: string): Promise<void> {
    return this.rooms.close(roomId);
  }

  /** An online user joins (placed by a game server); joining twice changes nothing. */
  async addMember(roomId: string, userId: string): Promise<void> {
    const room = await this.rooms.resolve(roomId);
    const user = await this.users.onlineRef(userId);
    if (user === undefined) throw new UserOfflineError(userId);
    await room.join(user, { byAdmin: true });
  }

  /** The user leaves and loses its invitation; not a member (or offline) is no error. */
  async removeMember(roomId: string, userId: string): Promise<void> {
    const room = await this.rooms.resolve(roomId);
    await room.remove((await this.users.onlineRef(userId)) ?? { id: userId, name: userId });
  }

  async notice(roomId: string, content: string): Promise<void> {
    await (await this.rooms.resolve(roomId)).notice(content);
  }

  /** Moderation: a room_delete of the message at `seq` by `system`. */
  async deleteMessage(roomId: string, seq: number): Promise<void> {
    await (await this.rooms.resolve(roomId)).deleteMessage(SYSTEM_USER, seq, true);
  }

  /** Closes every socket of the user; USER_OFFLINE when it has none. */
  async disconnectUser(userId: string): Promise<void> {
    if (!(await this.users.disconnectUser(userId))) throw new UserOfflineError(userId);
  }
}

function roomSettings(input: AdminRoomInput): Omit<RoomRecord, 'createdAt'> {
  const settings: Omit<RoomRecord, 'createdAt'> = {
    id: input.id,
    name: input.name ?? input.id,
    private: input.private ?? false,
  };
  if (input.ttlSeconds !== undefined) settings.ttlSeconds = input.ttlSeconds;
  return settings;
}

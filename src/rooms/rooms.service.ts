import type { AppConfig } from '../config/app-config.js';
import { ForbiddenError } from '../contract/errors.js';
import type {
  ClientEventResult,
  RoomCreateInput,
  RoomSummary,
  UserRef,
} from '../contract/events.js';
import type { RoomRecord } from '../store/message-store.js';
import type { RoomHandle } from './room-handle.js';
import type {
  MembershipObserver,
  RoomActorDeps,
  RoomSettings,
  RoomSnapshot,
} from './room.actor.js';

/**
 * The directory of rooms. One instance on its own (LocalRoomsService) serves every room
 * itself; in cluster mode (ClusterRoomsService) each room is served by one owner instance
 * and the others send it their commands. Either way a room is found by id and acted on
 * through its RoomHandle.
 */
export abstract class RoomsService {
  /** The users' side (UsersService) registers here: rooms know nothing else of users. */
  abstract observeMembership(observer: MembershipObserver): void;

  /** The room to act on; NOT_FOUND when there is none of that id. */
  abstract resolve(roomId: string): Promise<RoomHandle>;

  /** room:create: the creator owns the room and joins it (its room_join is seq 1). */
  abstract create(
    creator: UserRef,
    input: RoomCreateInput,
  ): Promise<ClientEventResult<'room:create'>>;

  /** A room with no owner (the admin API); ALREADY_EXISTS when the id is taken. */
  abstract createRoom(settings: Omit<RoomRecord, 'createdAt'>): Promise<RoomSettings>;

  /** A room's settings (fixed at creation); undefined when there is no such room. */
  abstract settingsOf(roomId: string): Promise<RoomSettings | undefined>;

  /** Closes a room: members get room_leave; its id may be created again, from seq 1. */
  abstract close(roomId: string): Promise<void>;

  /** Rooms a user may see: public ones and the private ones it is in (read state apart). */
  abstract list(userId: string): Promise<RoomListing[]>;

  /** Every room with its members (the admin snapshot). */
  abstract snapshot(): Promise<RoomSnapshot[]>;

  /** Rooms served by this instance (a metric). */
  abstract get count(): number;
}

/** A room in room:list, before the caller's read state is added. */
export type RoomListing = Omit<RoomSummary, 'lastRead' | 'unread'>;

// ---- what both directories do alike ---------------------------------------------------------

/** The room actor's limits, from the configuration. */
export function roomLimits(
  config: AppConfig,
): Pick<
  RoomActorDeps,
  | 'noticeIntervalMs'
  | 'maxMembers'
  | 'maxInvites'
  | 'recoveryBatchBytes'
  | 'editWindowMs'
  | 'readReceiptsMaxMembers'
  | 'historyMaxPerRoom'
> {
  return {
    noticeIntervalMs: config.roomNoticeIntervalMs,
    editWindowMs: config.editWindowSeconds * 1000,
    readReceiptsMaxMembers: config.readReceiptsMaxMembers,
    historyMaxPerRoom: config.historyMaxPerRoom,
    maxMembers: config.maxMembersPerRoom,
    maxInvites: config.maxInvitesPerRoom,
    recoveryBatchBytes: config.recoveryBatchBytes,
  };
}

/** room:create's room, owned by its creator; FORBIDDEN when the creator owns `owned` already. */
export function roomCreatedBy(
  creator: UserRef,
  input: RoomCreateInput,
  owned: number,
  config: AppConfig,
): Omit<RoomRecord, 'createdAt'> {
  if (owned >= config.maxRoomsPerUser) {
    throw new ForbiddenError(
      `you own ${owned} open rooms, the most allowed (an administrator can close some)`,
    );
  }
  return {
    id: input.roomId,
    name: input.name ?? input.roomId,
    private: input.private ?? false,
    owner: creator.id,
  };
}

/** A new room's record: created now, with no `owner` when it has none. */
export function newRoomRecord(input: Omit<RoomRecord, 'createdAt'>): RoomRecord {
  const record: RoomRecord = { ...input, createdAt: new Date().toISOString() };
  if (record.owner === undefined) delete record.owner;
  return record;
}

/** Default rooms are never closed, whatever TTL a room of that id was stored with. */
export function withoutDefaultTtl(record: RoomRecord, config: AppConfig): RoomRecord {
  if (record.ttlSeconds === undefined || !config.defaultRooms.includes(record.id)) return record;
  const kept = { ...record };
  delete kept.ttlSeconds;
  return kept;
}

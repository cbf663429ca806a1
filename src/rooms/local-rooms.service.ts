import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { RoomCreateInput, UserRef } from '../contract/events.js';
import { DefaultRoomError, RoomExistsError, RoomNotFoundError } from '../contract/errors.js';
import { AppConfig } from '../config/app-config.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import type { MessageStore, RoomRecord } from '../store/message-store.js';
import type { ReadStates } from './read-states.js';
import type { RoomHandle } from './room-handle.js';
import {
  RoomActor,
  type MembershipObserver,
  type RoomSettings,
  type RoomSnapshot,
  type RoomStartState,
} from './room.actor.js';
import {
  newRoomRecord,
  roomCreatedBy,
  roomLimits,
  RoomsService,
  type RoomListing,
  withoutDefaultTtl,
} from './rooms.service.js';

/**
 * The directory of rooms of one instance on its own: one RoomActor per room, found by id.
 * Creating and closing change the directory synchronously, so two creates of one id cannot
 * both succeed.
 */
@Injectable()
export class LocalRoomsService extends RoomsService implements OnModuleInit {
  readonly #logger = new Logger(RoomsService.name);
  readonly #rooms = new Map<string, RoomActor>();
  /** Rooms whose close is still being written: a new room of that id waits for it. */
  readonly #closing = new Map<string, Promise<void>>();
  /** Open rooms per owner: room:create stops at MAX_ROOMS_PER_USER of them. */
  readonly #owned = new Map<string, number>();
  /** The users' side, told of membership the rooms decide (see observeMembership). */
  #observer: MembershipObserver | undefined;
  readonly #membership: MembershipObserver = {
    joined: (userId, roomId) => this.#observer?.joined(userId, roomId) ?? false,
    left: (userId, roomId) => this.#observer?.left(userId, roomId),
    stillOnline: async (userIds) => new Set(userIds),
  };

  constructor(
    private readonly dispatcher: DispatcherService,
    private readonly delivery: DeliveryService,
    private readonly config: AppConfig,
    private readonly store: MessageStore,
    private readonly readStates: ReadStates,
  ) {
    super();
  }

  observeMembership(observer: MembershipObserver): void {
    this.#observer = observer;
  }

  async onModuleInit(): Promise<void> {
    for (const stored of await this.store.loadRooms()) {
      this.#add(stored, {
        lastSeq: stored.lastSeq,
        invited: stored.invited,
        ready: Promise.resolve(),
      });
    }
    for (const id of this.config.defaultRooms) {
      if (!this.#rooms.has(id)) this.#create({ id, name: id, private: false });
    }
    this.#logger.debug(
      `${this.#rooms.size} rooms ready (default: ${this.config.defaultRooms.join(', ')})`,
    );
  }

  async list(userId: string): Promise<RoomListing[]> {
    const views = await Promise.all(
      [...this.#rooms.values()].map((room) => room.summary(userId).catch(() => undefined)),
    );
    return views
      .filter((view) => view !== undefined && view.visible)
      .map((view) => ({
        id: view!.id,
        name: view!.name,
        members: view!.members,
        private: view!.private,
      }));
  }

  async create(
    creator: UserRef,
    input: RoomCreateInput,
  ): Promise<{ room: { id: string; name: string; private: boolean } }> {
    const owned = this.#owned.get(creator.id) ?? 0;
    const room = this.#create(roomCreatedBy(creator, input, owned, this.config));
    await room.join(creator);
    return {
      room: { id: input.roomId, name: input.name ?? input.roomId, private: room.isPrivate },
    };
  }

  async createRoom(settings: Omit<RoomRecord, 'createdAt'>): Promise<RoomSettings> {
    return this.#create(settings).settings;
  }

  async settingsOf(roomId: string): Promise<RoomSettings | undefined> {
    // Fixed at creation: read without a job.
    return this.#rooms.get(roomId)?.settings;
  }

  async resolve(roomId: string): Promise<RoomHandle> {
    return this.#get(roomId);
  }

  async close(roomId: string): Promise<void> {
    const room = this.#get(roomId);
    if (this.config.defaultRooms.includes(roomId)) throw new DefaultRoomError(roomId);
    this.#forget(room);
    const closed = room.close();
    this.#noteClosing(roomId, closed);
    return closed;
  }

  async snapshot(): Promise<RoomSnapshot[]> {
    const rooms = await Promise.all(
      [...this.#rooms.values()].map((room) => room.snapshot().catch(() => undefined)),
    );
    return rooms.filter((room): room is RoomSnapshot => room !== undefined);
  }

  #get(roomId: string): RoomActor {
    const room = this.#rooms.get(roomId);
    if (room === undefined) throw new RoomNotFoundError(roomId);
    return room;
  }

  get count(): number {
    return this.#rooms.size;
  }

  #create(input: Omit<RoomRecord, 'createdAt'>): RoomActor {
    if (this.#rooms.has(input.id)) throw new RoomExistsError(input.id);
    const record = newRoomRecord(input);
    // Every later event of the room is written after the room itself, and after the
    // deletion of a closed room of the same id.
    const closing = this.#closing.get(record.id);
    const ready =
      closing === undefined
        ? this.store.createRoom(record)
        : closing.then(() => this.store.createRoom(record));
    const room = this.#add(record, {
      lastSeq: 0,
      invited: [],
      ready,
      writesAfter: closing === undefined ? undefined : ready,
    });
    ready.catch((error: unknown) => {
      this.#logger.error(`room ${record.id} could not be stored: ${String(error)}`);
      if (this.#rooms.get(record.id) === room) {
        this.#forget(room);
        room.stop();
      }
    });
    return room;
  }

  #add(stored: RoomRecord, state: RoomStartState): RoomActor {
    const record = withoutDefaultTtl(stored, this.config);
    const room = new RoomActor(record, state, {
      dispatcher: this.dispatcher,
      delivery: this.delivery,
      store: this.store,
      readStates: this.readStates,
      membership: this.#membership,
      ...roomLimits(this.config),
      onExpired: (expired, closed) => this.#expired(expired, closed),
    });
    this.#rooms.set(record.id, room);
    const { owner } = record;
    if (owner !== undefined) this.#owned.set(owner, (this.#owned.get(owner) ?? 0) + 1);
    return room;
  }

  /** A room with a TTL closed itself (from its own job), exactly as DELETE would. */
  #expired(room: RoomActor, closed: Promise<void>): void {
    // Not in the directory: a DELETE already took it out and waits on the same close.
    if (this.#rooms.get(room.id) !== room) return;
    this.#forget(room);
    this.#noteClosing(room.id, closed);
    this.#logger.log(`room ${room.id} closed: empty for ${room.settings.ttlSeconds} s`);
  }

  /** Takes a closed (or never stored) room out of the directory and its owner's count. */
  #forget(room: RoomActor): void {
    this.#rooms.delete(room.id);
    const { owner } = room.settings;
    if (owner === undefined) return;
    const owned = (this.#owned.get(owner) ?? 1) - 1;
    if (owned > 0) this.#owned.set(owner, owned);
    else this.#owned.delete(owner);
  }

  /** A new room of this id writes its row only once the old one's deletion is written. */
  #noteClosing(roomId: string, closed: Promise<void>): void {
    const settled = closed.catch(() => undefined);
    this.#closing.set(roomId, settled);
    void settled.then(() => {
      if (this.#closing.get(roomId) === settled) this.#closing.delete(roomId);
    });
  }
}

import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { UserRef } from '../contract/events.js';
import { AppConfig } from '../config/app-config.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import type { MembershipObserver } from '../rooms/room.actor.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import { MemoDeletions } from './memos.js';
import { UserActor, type UserDirectory, type UserSnapshot } from './user.actor.js';

/**
 * The directory of connected users: one UserActor per user, found by id. Lookups are
 * synchronous; each user's state lives in its actor. Rooms tell it of the membership they
 * decide (MembershipObserver), and it hands that on to the user's actor.
 */
@Injectable()
export class UsersService implements UserDirectory, MembershipObserver, OnModuleInit {
  readonly #logger = new Logger(UsersService.name);
  readonly #actors = new Map<string, UserActor>();
  readonly #online = new Map<string, UserRef>();
  /** Online users with at least one socket: presence grace keeps a user online without. */
  readonly #reachable = new Map<string, UserRef>();
  readonly #memoDeletions = new MemoDeletions();

  constructor(
    private readonly dispatcher: DispatcherService,
    private readonly delivery: DeliveryService,
    private readonly rooms: RoomsService,
    private readonly config: AppConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
  ) {}

  onModuleInit(): void {
    this.rooms.observeMembership(this);
  }

  /** A socket authenticated as `user` connected; its user channel is already joined. */
  connect(socketId: string, user: UserRef): void {
    const existing = this.#actors.get(user.id);
    if (existing !== undefined && existing.attach(socketId)) return;
    const actor = new UserActor(user, {
      dispatcher: this.dispatcher,
      delivery: this.delivery,
      store: this.store,
      rooms: this.rooms,
      directory: this,
      memoDeletions: this.#memoDeletions,
      settings: this.config,
    });
    this.#actors.set(user.id, actor);
    actor.attach(socketId);
  }

  disconnect(socketId: string, userId: string): void {
    this.#actors.get(userId)?.detach(socketId);
  }

  /** The user's actor while it has an online session. */
  get(userId: string): UserActor | undefined {
    return this.#actors.get(userId);
  }

  onlineRef(userId: string): UserRef | undefined {
    return this.#online.get(userId);
  }

  /** The user when a message sent now reaches at least one of its sockets. */
  reachableRef(userId: string): UserRef | undefined {
    return this.#reachable.get(userId);
  }

  list(): UserRef[] {
    return [...this.#online.values()];
  }

  touch(userId: string): void {
    this.#actors.get(userId)?.touch();
  }

  /** Closes every socket of an online user; false when the user is offline. */
  disconnectUser(userId: string): boolean {
    const actor = this.#actors.get(userId);
    if (actor === undefined || !this.#online.has(userId)) return false;
    actor.disconnect();
    return true;
  }

  snapshot(): Promise<UserSnapshot[]> {
    const online = [...this.#online.keys()];
    return Promise.all(
      online.map((id) =>
        this.#actors
          .get(id)
          ?.snapshot()
          .catch(() => undefined),
      ),
    ).then((users) => users.filter((u): u is UserSnapshot => u !== undefined));
  }

  // ---- MembershipObserver: called by room actors from their jobs -----------------------------

  joined(userId: string, roomId: string): boolean {
    return this.#actors.get(userId)?.noteJoined(roomId) ?? false;
  }

  left(userId: string, roomId: string): void {
    this.#actors.get(userId)?.noteLeft(roomId);
  }

  // ---- UserDirectory: called by user actors from their jobs ---------------------------------

  online(user: UserRef): void {
    this.#online.set(user.id, user);
    this.#logger.debug(`user ${user.id} online`);
  }

  broadcastsPresence(): boolean {
    const max = this.config.presenceBroadcastMaxUsers;
    return max === 0 || this.#online.size <= max;
  }

  reachable(user: UserRef, reachable: boolean): void {
    if (reachable) this.#reachable.set(user.id, user);
    else this.#reachable.delete(user.id);
  }

  offline(user: UserRef): void {
    this.#online.delete(user.id);
  }

  retired(actor: UserActor): void {
    if (this.#actors.get(actor.ref.id) === actor) this.#actors.delete(actor.ref.id);
    this.#logger.debug(`user ${actor.ref.id} offline`);
  }

  reconnect(socketId: string, user: UserRef): void {
    this.connect(socketId, user);
  }

  flushMemos(userId: string): void {
    this.#actors.get(userId)?.flushMemos();
  }
}

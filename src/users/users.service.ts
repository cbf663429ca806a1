import { Inject, Injectable, Logger } from '@nestjs/common';
import type { UserRef } from '../contract/events.js';
import { AppConfig } from '../config/app-config.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import { MemoDeletions } from './memo-outbox.js';
import { UserActor, type UserLifecycle, type UserSnapshot } from './user.actor.js';

export type OfflineListener = (user: UserRef, roomIds: string[]) => void;

/**
 * The directory of connected users: one UserActor per user, found by id. Lookups are
 * synchronous; each user's state lives in its actor.
 */
@Injectable()
export class UsersService implements UserLifecycle {
  readonly #logger = new Logger(UsersService.name);
  readonly #actors = new Map<string, UserActor>();
  readonly #online = new Map<string, UserRef>();
  /** Online users with at least one socket: presence grace keeps a user online without. */
  readonly #reachable = new Map<string, UserRef>();
  readonly #offlineListeners: OfflineListener[] = [];
  readonly #memoDeletions = new MemoDeletions();

  constructor(
    private readonly dispatcher: DispatcherService,
    private readonly delivery: DeliveryService,
    private readonly config: AppConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
  ) {}

  /** A socket authenticated as `user` connected; its user channel is already joined. */
  connect(socketId: string, user: UserRef): void {
    const existing = this.#actors.get(user.id);
    if (existing !== undefined && existing.attach(socketId)) return;
    const actor = new UserActor(user, {
      dispatcher: this.dispatcher,
      delivery: this.delivery,
      store: this.store,
      memoDeletions: this.#memoDeletions,
      settings: this.config,
      lifecycle: this,
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

  isOnline(userId: string): boolean {
    return this.#online.has(userId);
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

  onOffline(listener: OfflineListener): void {
    this.#offlineListeners.push(listener);
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

  // ---- UserLifecycle: called by user actors from their jobs ---------------------------------

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

  offline(user: UserRef, roomIds: string[]): void {
    this.#online.delete(user.id);
    for (const listener of this.#offlineListeners) listener(user, roomIds);
  }

  retired(actor: UserActor): void {
    if (this.#actors.get(actor.ref.id) === actor) this.#actors.delete(actor.ref.id);
    this.#logger.debug(`user ${actor.ref.id} offline`);
  }

  reconnect(socketId: string, user: UserRef): void {
    this.connect(socketId, user);
  }
}

import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ClusterBus } from '../cluster/cluster-bus.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { AppConfig } from '../config/app-config.js';
import { RoomNotFoundError } from '../contract/errors.js';
import type { UserRef } from '../contract/events.js';
import { createMessage } from '../contract/messages.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { RedisConnection } from '../redis/redis.connection.js';
import type { MembershipObserver } from '../rooms/room.actor.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import { MemoDeletions, type MemoSource } from './memos.js';
import { LocalPresence, type Announcement, type Presence } from './presence.js';
import { RedisPresence } from './redis-presence.js';
import type { SendClaims } from './send-ledger.js';
import type { SharedRates } from './shared-rates.js';
import { UserActor, type UserDirectory, type UserSnapshot } from './user.actor.js';

/** A membership change a room decided, told to the instances that hold the user's sockets. */
interface MemberNote {
  userId: string;
  roomId: string;
  joined: boolean;
}

/** Admission's count of this instance's open sockets, moved into Redis after an outage. */
export interface SocketCounts {
  /** Open sockets per user on this instance now. */
  open(): ReadonlyMap<string, number>;
  /** Every one of them is counted in Redis from now on. */
  shared(): void;
}

/** Sockets closed to rejoin after a Redis outage come back within this, unannounced. */
const RESYNC_GRACE_MS = 15_000;

/** How long a claim on a clientMsgId in flight lasts (cluster mode). */
const SEND_CLAIM_MS = 30_000;

/**
 * The directory of users: one UserActor per user with a socket on this instance, found by id,
 * and who is online (Presence: in this process, or across the cluster in Redis). Rooms tell it
 * of the membership they decide (MembershipObserver); it hands that on to the user's actor
 * here, and in cluster mode to the other instances'.
 */
@Injectable()
export class UsersService implements UserDirectory, MembershipObserver, OnModuleInit {
  readonly #logger = new Logger(UsersService.name);
  readonly #actors = new Map<string, UserActor>();
  readonly #memoDeletions = new MemoDeletions();
  readonly #presence: Presence;
  /** Cluster mode only. */
  readonly #cluster: RedisPresence | undefined;
  #sharedRates: SharedRates | undefined;
  readonly #memoSource: MemoSource | undefined;
  readonly #sendClaims: SendClaims | undefined;
  #redisWasDown = false;
  #socketCounts: SocketCounts | undefined;
  /** Departures Redis did not take (an outage): told again once it is back. */
  readonly #untold = new Map<string, { user: UserRef; roomIds: readonly string[] }>();

  constructor(
    private readonly dispatcher: DispatcherService,
    private readonly delivery: DeliveryService,
    private readonly rooms: RoomsService,
    private readonly config: AppConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly node: ClusterNode,
    private readonly bus: ClusterBus,
    private readonly redis: RedisConnection,
  ) {
    const maxToEveryone = config.presenceBroadcastMaxUsers;
    if (!node.enabled) {
      this.#presence = new LocalPresence(maxToEveryone);
      return;
    }
    const prefix = config.redisPrefix;
    const presence = new RedisPresence(() => redis.commands, prefix, node.id, maxToEveryone);
    this.#cluster = presence;
    this.#presence = presence;
    this.roomsOf = (userId) => node.store.roomsOf(userId);
    this.activeWithin = async (userId, ms) => {
      const at = await presence.lastActive(userId);
      return at !== undefined && Date.now() - at < ms;
    };
    this.active = (userId) => presence.noteActive(userId);
    // A memo is claimed by the instance delivering it until its confirmation could be due.
    const claimMs = config.memoConfirmMs + 10_000;
    this.#memoSource = {
      pendingMemos: (userId, after, limit) =>
        node.store.claimMemos(userId, node.id, after, limit, claimMs),
    };
    const claimKey = (userId: string, id: string) => `${prefix}send:${userId}:${id}`;
    this.#sendClaims = {
      // With Redis down, this instance's own in-flight map and the store's record still hold.
      claim: (userId, id) =>
        redis.commands
          .set(claimKey(userId, id), node.id, 'PX', SEND_CLAIM_MS, 'NX')
          .then((answer) => answer === 'OK')
          .catch(() => true),
      release: (userId, id) =>
        redis.commands
          .del(claimKey(userId, id))
          .then(() => undefined)
          .catch(() => undefined),
    };
  }

  async onModuleInit(): Promise<void> {
    this.rooms.observeMembership(this);
    if (!this.node.enabled) return;
    const config = this.config;
    // rate-limiter-flexible loads only in cluster mode.
    const { SharedRates } = await import('./shared-rates.js');
    // Redis is connected by now (app.factory connects it before the modules start).
    this.#sharedRates = new SharedRates(this.redis.commands, config.redisPrefix, {
      send: { burst: config.rateLimitBurst, perSecond: config.rateLimitPerSecond },
      activity: { burst: config.activityRateBurst, perSecond: config.activityRatePerSecond },
      moderation: { burst: config.rateLimitBurst, perSecond: config.rateLimitPerSecond },
    });
    this.bus.on('user.member', (body) => this.#heardMember(body as MemberNote));
    this.bus.on('user.memos', (body) =>
      this.#actors.get((body as { userId: string }).userId)?.flushMemos(),
    );
    this.node.onInstanceGone((instanceId) => this.#reap(instanceId));
    // The others counted this instance's users gone (and made them leave their rooms): its
    // clients come back and join again, so that what they are told is true again.
    this.node.onForgotten(() => {
      const closed = this.delivery.reconnectSockets('all', () => undefined);
      this.#logger.warn(`${closed} sockets made to reconnect`);
    });
    this.redis.commands.on('ready', () => this.#redisBack());
    this.redis.commands.on('close', () => (this.#redisWasDown = true));
  }

  /** Cluster mode: sockets per user counted across instances (MAX_SOCKETS_PER_USER). */
  get sharedSlots(): RedisPresence | undefined {
    return this.#cluster;
  }

  /** Admission tells where this instance's sockets are counted (restored after an outage). */
  useSocketCounts(counts: SocketCounts): void {
    this.#socketCounts = counts;
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
      sharedRates: this.#sharedRates,
      memoSource: this.#memoSource,
      sendClaims: this.#sendClaims,
    });
    this.#actors.set(user.id, actor);
    actor.attach(socketId);
  }

  disconnect(socketId: string, userId: string): void {
    this.#actors.get(userId)?.detach(socketId);
  }

  /** Users with a session on this instance. */
  get sessions(): number {
    return this.#actors.size;
  }

  /** The user's actor while it has an online session here. */
  get(userId: string): UserActor | undefined {
    return this.#actors.get(userId);
  }

  onlineRef(userId: string): Promise<UserRef | undefined> {
    return this.#presence.onlineRef(userId);
  }

  /** The user when a message sent now reaches at least one of its sockets. */
  reachableRef(userId: string): Promise<UserRef | undefined> {
    return this.#presence.reachableRef(userId);
  }

  list(): Promise<UserRef[]> {
    return this.#presence.list();
  }

  touch(userId: string): void {
    this.#actors.get(userId)?.touch();
  }

  /** Closes every socket of an online user, on every instance; false when it is offline. */
  async disconnectUser(userId: string): Promise<boolean> {
    if ((await this.#presence.onlineRef(userId)) === undefined) return false;
    const actor = this.#actors.get(userId);
    // Off at once, without a grace, wherever its sockets are.
    if (actor !== undefined) actor.disconnect();
    else this.delivery.disconnectUser(userId);
    return true;
  }

  async snapshot(): Promise<UserSnapshot[]> {
    if (this.#cluster !== undefined) return this.#clusterSnapshot(this.#cluster);
    const online = await this.#presence.list();
    const users = await Promise.all(
      online.map((user) =>
        this.#actors
          .get(user.id)
          ?.snapshot()
          .catch(() => undefined),
      ),
    );
    return users.filter((u): u is UserSnapshot => u !== undefined);
  }

  // ---- MembershipObserver: called by room actors from their jobs -----------------------------

  joined(userId: string, roomId: string): boolean {
    if (!this.node.enabled) return this.#actors.get(userId)?.noteJoined(roomId) ?? false;
    this.#actors.get(userId)?.noteJoined(roomId);
    this.bus.notify('user.member', { userId, roomId, joined: true } satisfies MemberNote);
    // A user that went offline while it joined leaves again (its offline already ran).
    void this.#presence.onlineRef(userId).then(
      (online) => online === undefined && this.#leave({ id: userId, name: userId }, [roomId]),
      () => undefined,
    );
    return true;
  }

  left(userId: string, roomId: string): void {
    this.#actors.get(userId)?.noteLeft(roomId);
    if (this.node.enabled) {
      this.bus.notify('user.member', { userId, roomId, joined: false } satisfies MemberNote);
    }
  }

  stillOnline(userIds: readonly string[]): Promise<ReadonlySet<string>> {
    return this.#presence.stillOnline(userIds);
  }

  // ---- UserDirectory: called by user actors from their jobs ---------------------------------

  arrived(user: UserRef): void {
    this.#presence.arrived(user).then(
      (announcement) => this.#announce(user, 'user_connect', announcement),
      (error: unknown) =>
        this.#logger.warn(`presence of ${user.id} not recorded: ${String(error)}`),
    );
  }

  reachable(user: UserRef, reachable: boolean): void {
    this.#presence.reachable(user, reachable);
  }

  departed(user: UserRef, roomIds: readonly string[]): void {
    this.#presence.departed(user).then(
      (announcement) => {
        // Still online on another instance: that one will tell, when its turn comes.
        if (!announcement.announce) return;
        this.#leave(user, roomIds);
        this.#announce(user, 'user_disconnect', announcement);
      },
      (error: unknown) => {
        // Told again when Redis is back (#redisBack), unless the user is back here first.
        if (this.node.enabled) this.#untold.set(user.id, { user, roomIds });
        this.#logger.warn(`presence of ${user.id} not updated: ${String(error)}`);
      },
    );
  }

  retired(actor: UserActor): void {
    if (this.#actors.get(actor.ref.id) === actor) this.#actors.delete(actor.ref.id);
    this.#logger.debug(`user ${actor.ref.id} offline here`);
  }

  reconnect(socketId: string, user: UserRef): void {
    this.connect(socketId, user);
  }

  flushMemos(userId: string): void {
    this.#actors.get(userId)?.flushMemos();
    // Its sockets may be on other instances.
    if (this.node.enabled) this.bus.notify('user.memos', { userId });
  }

  /** Cluster mode: the rooms a user is in, on every instance. */
  readonly roomsOf?: (userId: string) => Promise<readonly string[]>;
  /** Cluster mode: whether the user was active on any instance within the last `ms`. */
  readonly activeWithin?: (userId: string, ms: number) => Promise<boolean>;
  /** Cluster mode: the user did something on this instance now. */
  readonly active?: (userId: string) => void;

  // ---- presence ----------------------------------------------------------------------------

  #announce(user: UserRef, type: 'user_connect' | 'user_disconnect', said: Announcement): void {
    if (!said.announce) return;
    this.#logger.debug(`user ${user.id} ${type === 'user_connect' ? 'online' : 'offline'}`);
    const verb = type === 'user_connect' ? 'connected' : 'disconnected';
    const message = createMessage(type, { user, content: `${user.name} ${verb}` });
    if (said.toEveryone) this.delivery.toEveryone(message);
    else if (type === 'user_connect') this.delivery.toUsers([user.id], message);
  }

  /** An offline user leaves its rooms, each with a room_leave (cluster: every stored one). */
  #leave(user: UserRef, roomIds: readonly string[]): void {
    const leaving = this.node.enabled
      ? this.node.store.roomsOf(user.id).then((stored) => [...new Set([...roomIds, ...stored])])
      : Promise.resolve(roomIds);
    void leaving.then(
      (all) => {
        for (const roomId of all) {
          this.rooms
            .resolve(roomId)
            .then((room) => room.leave(user))
            .catch((error: unknown) => {
              if (error instanceof RoomNotFoundError) return;
              this.#logger.warn(`user ${user.id} could not leave room ${roomId}: ${String(error)}`);
            });
        }
      },
      (error: unknown) => this.#logger.warn(`rooms of ${user.id} not read: ${String(error)}`),
    );
  }

  // ---- cluster mode ------------------------------------------------------------------------

  #heardMember({ userId, roomId, joined }: MemberNote): void {
    const actor = this.#actors.get(userId);
    if (actor === undefined) return;
    if (joined) actor.noteJoined(roomId);
    else actor.noteLeft(roomId);
  }

  /** A dead instance's users with no socket left anywhere go offline, told once, by one. */
  async #reap(instanceId: string): Promise<void> {
    for (const { user, toEveryone } of (await this.#cluster?.reap(instanceId)) ?? []) {
      this.#leave(user, []);
      this.#announce(user, 'user_disconnect', { announce: true, toEveryone });
    }
  }

  /**
   * Redis came back after an outage. It may have kept nothing, and it missed what happened
   * meanwhile, so this instance's users and their open sockets are told to it again, silently
   * (sockets admitted meanwhile are counted in Redis from now on), and the departures it
   * missed are told again. Broadcasts of rooms owned elsewhere did not reach this instance's
   * sockets meanwhile: they are closed (a transport close, like a shutdown), so their clients
   * come back and join again with `since`, each event once, and within their presence grace
   * nobody hears of it.
   */
  #redisBack(): void {
    if (!this.#redisWasDown) return;
    this.#redisWasDown = false;
    const presence = this.#cluster;
    if (presence === undefined) return;
    const users = new Map<string, { user: UserRef; sockets: number }>();
    for (const [userId, sockets] of this.#socketCounts?.open() ?? []) {
      users.set(userId, {
        user: this.#actors.get(userId)?.ref ?? { id: userId, name: userId },
        sockets,
      });
    }
    // Users in their grace here: no socket, not departed yet.
    for (const actor of this.#actors.values()) {
      if (!users.has(actor.ref.id)) users.set(actor.ref.id, { user: actor.ref, sockets: 0 });
    }
    // Sent now, in this turn: every release from now on is counted after it.
    const restored = presence.restore([...users.values()]);
    this.#socketCounts?.shared();
    void restored
      .then(() => this.#tellDepartures())
      .then(() => {
        const closed = this.delivery.reconnectSockets('in-rooms', (userId) =>
          this.#actors.get(userId)?.holdPresence(RESYNC_GRACE_MS),
        );
        this.#logger.warn(`Redis is back: ${closed} sockets made to rejoin with since`);
      })
      .catch((error: unknown) =>
        this.#logger.warn(`presence not restored after Redis came back: ${String(error)}`),
      );
  }

  /** Departures Redis missed during an outage, told now (unless the user came back here). */
  #tellDepartures(): void {
    const untold = [...this.#untold.values()];
    this.#untold.clear();
    for (const { user, roomIds } of untold) {
      if (!this.#actors.has(user.id)) this.departed(user, roomIds);
    }
  }

  async #clusterSnapshot(presence: RedisPresence): Promise<UserSnapshot[]> {
    const online = await presence.list();
    const rooms = await this.rooms.snapshot();
    const roomsOf = new Map<string, string[]>();
    for (const room of rooms) {
      for (const member of room.members) {
        const list = roomsOf.get(member) ?? [];
        list.push(room.id);
        roomsOf.set(member, list);
      }
    }
    const now = Date.now();
    return Promise.all(
      online.map(async (user) => {
        const at = await presence.lastActive(user.id);
        return {
          id: user.id,
          name: user.name,
          rooms: roomsOf.get(user.id) ?? [],
          idleMs: at === undefined ? 0 : Math.max(0, now - at),
        };
      }),
    );
  }
}

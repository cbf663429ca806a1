import {
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { UnreachableInstanceError, type ClusterBus } from '../cluster/cluster-bus.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { AppConfig } from '../config/app-config.js';
import {
  BusyError,
  ChatError,
  DefaultRoomError,
  RoomExistsError,
  RoomMovedError,
  RoomNotFoundError,
} from '../contract/errors.js';
import type { ClientEventResult, RoomCreateInput, UserRef } from '../contract/events.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import type { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { NotAcceptingError } from '../dispatcher/index.js';
import type { MessageStore, RoomRecord, StoredRoom } from '../store/message-store.js';
import type { PostgresCluster, RoomOwner } from '../store/postgres/postgres-cluster.js';
import type { ReadStates } from './read-states.js';
import { ROOM_COMMANDS, type RoomCommand, type RoomHandle } from './room-handle.js';
import {
  RoomActor,
  roomSettings,
  type JoinOptions,
  type MembershipObserver,
  type RoomSettings,
  type RoomSnapshot,
} from './room.actor.js';
import {
  newRoomRecord,
  roomCreatedBy,
  roomLimits,
  RoomsService,
  type RoomListing,
  withoutDefaultTtl,
} from './rooms.service.js';

/** A room command sent to the room's owner, and its answer. */
interface CommandRequest {
  roomId: string;
  command: RoomCommand;
  args: unknown[];
}
type CommandReply = { moved: true } | { moved?: false; value: unknown };

/** Tells the others who owns a room now, so their commands go there at once. */
interface OwnerNote {
  roomId: string;
  instance: string;
  epoch: number;
}

/** Between two tries of a command whose room is changing hands. */
const REROUTE_MS = 100;

/**
 * The directory of rooms in cluster mode: each room is served by exactly one instance, its
 * owner, whose RoomActor is the room's single writer (the store refuses writes of an earlier
 * owner: the fencing epoch). Every other instance sends the room's commands to the owner over
 * Redis (ClusterBus) and relays the answer; a room that no live instance owns is taken over by
 * the first instance that needs it, or by the orphan sweep, so that heartbeats and TTLs go on.
 */
export class ClusterRoomsService
  extends RoomsService
  implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown
{
  readonly #logger = new Logger(RoomsService.name);
  /** The rooms this instance serves now. */
  readonly #owned = new Map<string, RoomActor>();
  readonly #acquiring = new Map<string, Promise<RoomActor | undefined>>();
  /** Rooms that closed themselves (TTL) here whose deletion is still being written. */
  readonly #closing = new Set<string>();
  /** Who owns each room, as last heard: a hint, checked against PostgreSQL when it fails. */
  readonly #owners = new Map<string, OwnerNote>();
  readonly #handles = new Map<string, RoutedRoom>();
  /** Orphans seen in the last sweep: taken by anyone in the next, not only their first choice. */
  #orphansSeen = new Set<string>();
  #sweep: NodeJS.Timeout | undefined;
  /** Set once this instance hands its rooms back: it takes none any more. */
  #stopping = false;
  #observer: MembershipObserver | undefined;
  readonly #membership: MembershipObserver = {
    joined: (userId, roomId) => this.#observer?.joined(userId, roomId) ?? false,
    left: (userId, roomId) => this.#observer?.left(userId, roomId),
    stillOnline: (userIds) =>
      this.#observer?.stillOnline(userIds) ?? Promise.resolve(new Set(userIds)),
  };

  constructor(
    private readonly dispatcher: DispatcherService,
    private readonly delivery: DeliveryService,
    private readonly config: AppConfig,
    private readonly store: MessageStore,
    private readonly readStates: ReadStates,
    private readonly node: ClusterNode,
    private readonly bus: ClusterBus,
  ) {
    super();
  }

  get #cluster(): PostgresCluster {
    return this.node.store;
  }

  observeMembership(observer: MembershipObserver): void {
    this.#observer = observer;
  }

  async onModuleInit(): Promise<void> {
    this.bus.handle('room.command', (body) => this.#serve(body as CommandRequest));
    this.bus.on('room.owner', (body) => this.#heardOwner(body as OwnerNote));
    this.bus.on('room.closed', (body) => this.#forgetRoom((body as { roomId: string }).roomId));
    this.node.onLeaseLost(() => this.#dropAll('this instance lost its lease'));
    // Default rooms exist from start: whichever instance creates one owns it.
    for (const id of this.config.defaultRooms) {
      const record = newRoomRecord({ id, name: id, private: false });
      const epoch = await this.#cluster.createRoom(record, this.node.id);
      if (epoch !== undefined) this.#start(record, epoch, 0);
    }
    this.#sweep = setInterval(() => void this.#adoptOrphans(), this.node.leaseMs);
    this.#sweep.unref();
    await this.#adoptOrphans();
    this.#logger.debug(`serving ${this.#owned.size} rooms (more on the other instances)`);
  }

  onModuleDestroy(): void {
    clearInterval(this.#sweep);
  }

  /**
   * A clean stop, after the mailboxes drained: every room is handed back, so the others take
   * them over at once, and this instance takes none any more. Its lease is renewed until then.
   */
  async onApplicationShutdown(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweep);
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    // What the rooms wrote must be final before anyone else numbers on.
    await this.store.flush();
    for (const room of owned) {
      room.release();
      await this.#cluster
        .releaseRoom(room.id, this.node.id, room.epoch ?? 0)
        .catch((error: unknown) =>
          this.#logger.warn(`room ${room.id} not handed back: ${String(error)}`),
        );
    }
    await this.node.leave(this.config.presenceGraceMs);
  }

  async resolve(roomId: string): Promise<RoomHandle> {
    const handle = this.#handles.get(roomId);
    if (handle !== undefined) return handle;
    if (!this.#owned.has(roomId) && !this.#owners.has(roomId)) {
      const owner = await this.#cluster.roomOwner(roomId);
      if (owner === undefined) throw new RoomNotFoundError(roomId);
      // Kept: the command that follows goes there without asking PostgreSQL again.
      this.#noteLiveOwner(roomId, owner);
    }
    return this.#handleOf(roomId);
  }

  async create(
    creator: UserRef,
    input: RoomCreateInput,
  ): Promise<ClientEventResult<'room:create'>> {
    const owned = await this.#cluster.ownedRoomCount(creator.id);
    const room = await this.createRoom(roomCreatedBy(creator, input, owned, this.config));
    await this.#handleOf(room.id).join(creator);
    return { room: { id: room.id, name: room.name, private: room.private } };
  }

  async createRoom(input: Omit<RoomRecord, 'createdAt'>): Promise<RoomSettings> {
    const record = newRoomRecord(input);
    const epoch = await this.#cluster.createRoom(record, this.node.id);
    if (epoch === undefined) throw new RoomExistsError(record.id);
    return this.#start(record, epoch, 0).settings;
  }

  async settingsOf(roomId: string): Promise<RoomSettings | undefined> {
    const stored = await this.#cluster.loadRoom(roomId);
    return stored === undefined ? undefined : roomSettings(stored);
  }

  async close(roomId: string): Promise<void> {
    if (this.config.defaultRooms.includes(roomId)) throw new DefaultRoomError(roomId);
    const room = await this.resolve(roomId);
    await room.close();
    this.#forgetRoom(roomId);
    this.bus.notify('room.closed', { roomId });
  }

  async list(userId: string): Promise<RoomListing[]> {
    const [rooms, members] = await Promise.all([this.store.loadRooms(), this.#cluster.members()]);
    const summaries: RoomListing[] = [];
    for (const room of rooms) {
      const present = members.get(room.id) ?? [];
      if (room.private && !present.some((member) => member.id === userId)) continue;
      summaries.push({
        id: room.id,
        name: room.name,
        members: present.length,
        private: room.private,
      });
    }
    return summaries;
  }

  async snapshot(): Promise<RoomSnapshot[]> {
    const [rooms, members] = await Promise.all([this.store.loadRooms(), this.#cluster.members()]);
    return rooms.map((room) => ({
      id: room.id,
      name: room.name,
      members: (members.get(room.id) ?? []).map((member) => member.id),
    }));
  }

  get count(): number {
    return this.#owned.size;
  }

  // ---- commands: run here when this instance owns the room, sent to the owner otherwise ----

  /**
   * Runs a command on the room wherever it is served, for up to CLUSTER_FORWARD_TIMEOUT_MS:
   * a room changing hands (its owner gone, frozen or handing over) is found again and the
   * command sent there. Only a command that surely did not run is sent again.
   */
  async command(roomId: string, command: RoomCommand, args: unknown[]): Promise<unknown> {
    const deadline = performance.now() + this.config.clusterForwardTimeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new BusyError(`room ${roomId} is changing hands: retry`);
      const target = await this.#ownerOf(roomId).catch((error: unknown) => {
        if (error instanceof ChatError) throw error;
        // PostgreSQL cannot say who owns it now.
        throw new BusyError(`room ${roomId} cannot be reached now: retry (${String(error)})`);
      });
      try {
        if (target instanceof RoomActor) return await invoke(target, command, args);
        const reply = await this.bus.request<CommandReply>(
          target,
          'room.command',
          { roomId, command, args } satisfies CommandRequest,
          left,
        );
        if (reply.moved !== true) return reply.value;
      } catch (error) {
        if (!(error instanceof RoomMovedError || error instanceof UnreachableInstanceError)) {
          throw error;
        }
      }
      this.#owners.delete(roomId);
      await new Promise((resolve) => setTimeout(resolve, REROUTE_MS));
    }
  }

  /** Another instance's command for a room this instance owns (or may take over). */
  async #serve({ roomId, command, args }: CommandRequest): Promise<CommandReply> {
    if (!ROOM_COMMANDS.includes(command)) throw new Error(`no room command ${String(command)}`);
    // Handing its rooms back, or unsure of its lease (maybe just woken from a freeze, with
    // requests buffered meanwhile): nothing runs here, the asker finds the room's owner.
    if (this.#stopping || !this.node.holdsLease) return { moved: true };
    const room = this.#owned.get(roomId) ?? (await this.#acquire(roomId));
    if (room === undefined) return { moved: true };
    try {
      return { value: (await invoke(room, command, args)) ?? null };
    } catch (error) {
      // Refused by a runtime that is shutting down: nothing ran, the room is handed back soon.
      if (error instanceof RoomMovedError || error instanceof NotAcceptingError) {
        return { moved: true };
      }
      throw error;
    }
  }

  /** Where the room is served: its actor here, another live instance's id, or NOT_FOUND. */
  async #ownerOf(roomId: string): Promise<RoomActor | string> {
    const here = this.#owned.get(roomId);
    if (here !== undefined && !here.stopped && this.node.holdsLease) return here;
    const heard = this.#owners.get(roomId);
    if (
      heard !== undefined &&
      heard.instance !== this.node.id &&
      this.node.isAlive(heard.instance)
    ) {
      return heard.instance;
    }
    const owner = await this.#cluster.roomOwner(roomId);
    if (owner === undefined) {
      this.#forgetRoom(roomId);
      throw new RoomNotFoundError(roomId);
    }
    const live = this.#noteLiveOwner(roomId, owner);
    if (live !== undefined) return live;
    // Another instance's room whose lease ran out: taken over only by an instance that has
    // itself held its lease for a while (after a PostgreSQL outage every lease ran out).
    if (owner.instance !== undefined && owner.instance !== this.node.id && !this.node.settled) {
      throw new RoomMovedError(roomId);
    }
    const acquired = await this.#acquire(roomId);
    if (acquired !== undefined) return acquired;
    throw new RoomMovedError(roomId); // someone else took it first: look again
  }

  /** Another live instance that owns the room, remembered; undefined when there is none. */
  #noteLiveOwner(roomId: string, owner: RoomOwner): string | undefined {
    if (!owner.alive || owner.instance === undefined || owner.instance === this.node.id) {
      return undefined;
    }
    this.#owners.set(roomId, { roomId, instance: owner.instance, epoch: owner.epoch });
    return owner.instance;
  }

  /** Takes the room over when no live instance owns it (one try at a time per room). */
  #acquire(roomId: string): Promise<RoomActor | undefined> {
    // A room whose deletion is in flight is not brought back: the caller looks again.
    if (!this.node.holdsLease || this.#stopping || this.#closing.has(roomId)) {
      return Promise.resolve(undefined);
    }
    const running = this.#acquiring.get(roomId);
    if (running !== undefined) return running;
    const acquiring = this.#takeOver(roomId).finally(() => this.#acquiring.delete(roomId));
    this.#acquiring.set(roomId, acquiring);
    return acquiring;
  }

  async #takeOver(roomId: string): Promise<RoomActor | undefined> {
    const stored = await this.#cluster.acquireRoom(roomId, this.node.id, this.node.settled);
    if (stored === undefined) return undefined;
    const room = this.#start(stored, stored.epoch, stored.lastSeq, stored);
    this.#logger.log(`room ${roomId} taken over (epoch ${stored.epoch})`);
    // Members whose every socket is gone (their instance died) leave, with a room_leave.
    const stillOnline = await this.#membership.stillOnline(
      stored.members.map((member) => member.id),
    );
    for (const member of stored.members) {
      if (!stillOnline.has(member.id)) void room.leave(member).catch(() => undefined);
    }
    return room;
  }

  /** This instance serves the room from now on, with this fencing epoch. */
  #start(
    created: RoomRecord,
    epoch: number,
    lastSeq: number,
    stored?: StoredRoom & { members: readonly UserRef[] },
  ): RoomActor {
    const record = withoutDefaultTtl(created, this.config);
    this.#owned.get(record.id)?.release();
    const room = new RoomActor(
      record,
      {
        lastSeq,
        invited: stored?.invited ?? [],
        members: stored?.members ?? [],
        ready: Promise.resolve(),
      },
      {
        dispatcher: this.dispatcher,
        delivery: this.delivery,
        store: this.store,
        readStates: this.readStates,
        membership: this.#membership,
        ...roomLimits(this.config),
        onExpired: (expired, closed) => this.#expired(expired, closed),
        ownership: { epoch, onLost: (lost) => this.#lost(lost) },
      },
    );
    this.#owned.set(record.id, room);
    const note: OwnerNote = { roomId: record.id, instance: this.node.id, epoch };
    this.#owners.set(record.id, note);
    this.bus.notify('room.owner', note);
    return room;
  }

  #handleOf(roomId: string): RoutedRoom {
    let handle = this.#handles.get(roomId);
    if (handle === undefined) {
      handle = new RoutedRoom(roomId, this);
      this.#handles.set(roomId, handle);
    }
    return handle;
  }

  #heardOwner(note: OwnerNote): void {
    const known = this.#owners.get(note.roomId);
    if (known !== undefined && known.epoch > note.epoch) return;
    this.#owners.set(note.roomId, note);
    // Ours no longer: a newer owner's epoch fences whatever this instance would still write.
    const here = this.#owned.get(note.roomId);
    if (here !== undefined && note.instance !== this.node.id) this.#drop(here, 'a newer owner');
  }

  /** A write found a newer owner: the room is served elsewhere now. */
  #lost(room: RoomActor): void {
    if (this.#owned.get(room.id) === room) this.#owned.delete(room.id);
    this.#owners.delete(room.id);
  }

  #drop(room: RoomActor, why: string): void {
    if (this.#owned.get(room.id) !== room) return;
    this.#owned.delete(room.id);
    room.release();
    this.#logger.warn(`room ${room.id} no longer served here: ${why}`);
  }

  #dropAll(why: string): void {
    for (const room of [...this.#owned.values()]) this.#drop(room, why);
  }

  /**
   * A room with a TTL closed itself on this instance. When its deletion is not written (the
   * store is away, or another instance owns the room now) the room stays: still owned by this
   * instance in PostgreSQL, the orphan sweep takes it up again, and it expires again.
   */
  #expired(room: RoomActor, closed: Promise<void>): void {
    if (this.#owned.get(room.id) !== room) return;
    this.#owned.delete(room.id);
    this.#closing.add(room.id);
    closed
      .then(
        () => {
          this.#forgetRoom(room.id);
          this.bus.notify('room.closed', { roomId: room.id });
          this.#logger.log(`room ${room.id} closed: empty for ${room.settings.ttlSeconds} s`);
        },
        (error: unknown) =>
          this.#logger.warn(
            `room ${room.id} not deleted after its TTL (${String(error)}): taken up again later`,
          ),
      )
      .finally(() => this.#closing.delete(room.id))
      .catch(() => undefined);
  }

  #forgetRoom(roomId: string): void {
    this.#owners.delete(roomId);
    this.#handles.delete(roomId);
    const here = this.#owned.get(roomId);
    if (here !== undefined && here.stopped) this.#owned.delete(roomId);
  }

  /**
   * Rooms no live instance owns are taken over, so that their heartbeats and TTLs go on: each
   * by the live instance that ranks first for it (rendezvous hashing spreads them), or by any
   * instance once it has stayed orphaned for a whole sweep. Rooms this instance owns in
   * PostgreSQL but does not serve (dropped when its lease was in doubt, a TTL close that was
   * not written) are taken up again.
   */
  async #adoptOrphans(): Promise<void> {
    if (!this.node.settled || this.#stopping) return;
    let orphans: Array<{ id: string; mine: boolean }>;
    try {
      orphans = await this.#cluster.orphanRooms(this.node.id);
    } catch (error) {
      this.#logger.debug(`orphan sweep failed: ${String(error)}`);
      return;
    }
    const live = this.node.liveInstances;
    const seen = this.#orphansSeen;
    this.#orphansSeen = new Set(orphans.map((orphan) => orphan.id));
    for (const { id: roomId, mine } of orphans) {
      if (this.#owned.has(roomId) || this.#closing.has(roomId)) continue;
      if (mine || firstChoice(roomId, live) === this.node.id || seen.has(roomId)) {
        await this.#acquire(roomId).catch((error: unknown) =>
          this.#logger.debug(`room ${roomId} not taken over: ${String(error)}`),
        );
      }
    }
  }
}

/** A room served wherever its owner is: every command goes through the cluster's routing. */
class RoutedRoom implements RoomHandle {
  constructor(
    readonly id: string,
    private readonly rooms: ClusterRoomsService,
  ) {}

  join(user: UserRef, options: JoinOptions = {}) {
    return this.#send('join', [user, options]) as ReturnType<RoomHandle['join']>;
  }
  leave(user: UserRef) {
    return this.#send('leave', [user]) as Promise<void>;
  }
  remove(user: UserRef) {
    return this.#send('remove', [user]) as Promise<void>;
  }
  kick(byUserId: string, userId: string) {
    return this.#send('kick', [byUserId, userId]) as Promise<void>;
  }
  mute(byUserId: string, userId: string, seconds: number) {
    return this.#send('mute', [byUserId, userId, seconds]) as ReturnType<RoomHandle['mute']>;
  }
  invite(byUserId: string, userId: string) {
    return this.#send('invite', [byUserId, userId]) as Promise<void>;
  }
  post(user: UserRef, content: string, clientMsgId?: string) {
    const args = clientMsgId === undefined ? [user, content] : [user, content, clientMsgId];
    return this.#send('post', args) as ReturnType<RoomHandle['post']>;
  }
  history(userId: string, before: number | undefined, limit: number) {
    return this.#send('history', [userId, before ?? null, limit]) as ReturnType<
      RoomHandle['history']
    >;
  }
  edit(user: UserRef, seq: number, content: string, clientMsgId?: string) {
    const args =
      clientMsgId === undefined ? [user, seq, content] : [user, seq, content, clientMsgId];
    return this.#send('edit', args) as ReturnType<RoomHandle['edit']>;
  }
  deleteMessage(by: UserRef, seq: number, byAdmin = false) {
    return this.#send('deleteMessage', [by, seq, byAdmin]) as ReturnType<
      RoomHandle['deleteMessage']
    >;
  }
  react(user: UserRef, seq: number, emoji: string, on: boolean) {
    return this.#send('react', [user, seq, emoji, on]) as ReturnType<RoomHandle['react']>;
  }
  markRead(user: UserRef, seq: number) {
    return this.#send('markRead', [user, seq]) as ReturnType<RoomHandle['markRead']>;
  }
  typing(user: UserRef) {
    return this.#send('typing', [user]) as Promise<void>;
  }
  notice(content: string) {
    return this.#send('notice', [content]) as Promise<void>;
  }
  close() {
    return this.#send('close', []) as Promise<void>;
  }

  async #send(command: RoomCommand, args: unknown[]): Promise<unknown> {
    return this.rooms.command(this.id, command, args);
  }
}

/** Runs a command on the room actor; arguments as they crossed the wire (JSON). */
function invoke(room: RoomActor, command: RoomCommand, args: unknown[]): Promise<unknown> {
  switch (command) {
    case 'join':
      return room.join(args[0] as UserRef, (args[1] as JoinOptions | undefined) ?? {});
    case 'leave':
      return room.leave(args[0] as UserRef);
    case 'remove':
      return room.remove(args[0] as UserRef);
    case 'kick':
      return room.kick(args[0] as string, args[1] as string);
    case 'mute':
      return room.mute(args[0] as string, args[1] as string, args[2] as number);
    case 'invite':
      return room.invite(args[0] as string, args[1] as string);
    case 'post':
      return room.post(args[0] as UserRef, args[1] as string, args[2] as string | undefined);
    case 'history':
      return room.history(
        args[0] as string,
        (args[1] as number | null) ?? undefined,
        args[2] as number,
      );
    case 'edit':
      return room.edit(
        args[0] as UserRef,
        args[1] as number,
        args[2] as string,
        args[3] as string | undefined,
      );
    case 'deleteMessage':
      return room.deleteMessage(args[0] as UserRef, args[1] as number, args[2] === true);
    case 'react':
      return room.react(args[0] as UserRef, args[1] as number, args[2] as string, args[3] === true);
    case 'markRead':
      return room.markRead(args[0] as UserRef, args[1] as number);
    case 'typing':
      return room.typing(args[0] as UserRef);
    case 'notice':
      return room.notice(args[0] as string);
    case 'close':
      return room.close();
  }
}

/** The live instance that ranks first for a room (rendezvous hashing). */
function firstChoice(roomId: string, instances: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = '';
  for (const instance of instances) {
    const score = createHash('sha1').update(`${roomId}\u0000${instance}`).digest('hex');
    if (score > bestScore) {
      bestScore = score;
      best = instance;
    }
  }
  return best;
}

import type { UserRef } from '../contract/events.js';

/** Whether a user's connect or disconnect is announced here, and to whom. */
export interface Announcement {
  /** This caller announces it (the first socket anywhere; the last one anywhere). */
  announce: boolean;
  /** To every online user; otherwise a connect goes to the subject only, a disconnect nowhere. */
  toEveryone: boolean;
}

const SILENT: Announcement = { announce: false, toEveryone: false };

/**
 * Who is online, on one instance (LocalPresence) or across a cluster (RedisPresence): a user
 * is online from its first socket anywhere until its last one anywhere is gone (after its
 * presence grace), and each of the two is announced by exactly one instance.
 *
 * Presence to every online user costs N deliveries a connect, N² for a connect storm; past
 * PRESENCE_BROADCAST_MAX_USERS online users (when set, `maxToEveryone` > 0) only the subject
 * hears of its own connect, and its disconnect goes to everyone only if its connect did, or
 * if the count is back within the limit.
 */
export interface Presence {
  /** The user's first socket on this instance. */
  arrived(user: UserRef): Promise<Announcement>;
  /** The user has a socket on this instance again, or none any more (its grace may run). */
  reachable(user: UserRef, reachable: boolean): void;
  /** The user's last socket here is gone and its grace is over. */
  departed(user: UserRef): Promise<Announcement>;
  /** The user when a message sent now reaches one of its sockets. */
  reachableRef(userId: string): Promise<UserRef | undefined>;
  /** The user while it is online (also during its presence grace). */
  onlineRef(userId: string): Promise<UserRef | undefined>;
  list(): Promise<UserRef[]>;
  /** Those of `userIds` that are online. */
  stillOnline(userIds: readonly string[]): Promise<ReadonlySet<string>>;
}

/** One instance on its own: two maps. */
export class LocalPresence implements Presence {
  readonly #online = new Map<string, { ref: UserRef; toEveryone: boolean }>();
  /** Online users with at least one socket: presence grace keeps a user online without. */
  readonly #reachable = new Map<string, UserRef>();

  constructor(private readonly maxToEveryone: number) {}

  async arrived(user: UserRef): Promise<Announcement> {
    if (this.#online.has(user.id)) return SILENT;
    // Counted with the subject online.
    const toEveryone = this.#withinLimit(this.#online.size + 1);
    this.#online.set(user.id, { ref: user, toEveryone });
    return { announce: true, toEveryone };
  }

  reachable(user: UserRef, reachable: boolean): void {
    if (reachable) this.#reachable.set(user.id, user);
    else this.#reachable.delete(user.id);
  }

  async departed(user: UserRef): Promise<Announcement> {
    const entry = this.#online.get(user.id);
    if (entry === undefined) return SILENT;
    // Counted with the subject still online, as its connect was.
    const toEveryone = entry.toEveryone || this.#withinLimit(this.#online.size);
    this.#online.delete(user.id);
    this.#reachable.delete(user.id);
    return { announce: true, toEveryone };
  }

  async reachableRef(userId: string): Promise<UserRef | undefined> {
    return this.#reachable.get(userId);
  }

  async onlineRef(userId: string): Promise<UserRef | undefined> {
    return this.#online.get(userId)?.ref;
  }

  async list(): Promise<UserRef[]> {
    return [...this.#online.values()].map((entry) => entry.ref);
  }

  async stillOnline(userIds: readonly string[]): Promise<ReadonlySet<string>> {
    return new Set(userIds.filter((id) => this.#online.has(id)));
  }

  #withinLimit(count: number): boolean {
    return this.maxToEveryone === 0 || count <= this.maxToEveryone;
  }
}

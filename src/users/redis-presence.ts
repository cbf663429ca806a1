import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BusyError } from '../contract/errors.js';
import type { UserRef } from '../contract/events.js';
import type { Announcement, Presence } from './presence.js';

/**
 * Presence across a cluster, in Redis under REDIS_PREFIX:
 * - `sockets:<user>`: a hash of instance id -> open sockets (admission keeps it, so
 *   MAX_SOCKETS_PER_USER counts the cluster);
 * - `online`: a hash of user id -> { name, everyone } for every online user, grace included;
 * - `instance:<id>`: the users an instance has sockets of or whose presence grace runs there
 *   (a user leaves it with its departure, not with its last socket), so the instance's
 *   leftovers can be cleaned up when it dies or stops (`reap`), grace included.
 * Each step is one Lua script, so of all instances exactly one announces a connect or a
 * disconnect.
 */
export class RedisPresence implements Presence {
  readonly #logger = new Logger('Presence');
  readonly #prefix: string;
  readonly #online: string;

  constructor(
    private readonly redis: () => Redis,
    prefix: string,
    private readonly instanceId: string,
    private readonly maxToEveryone: number,
  ) {
    this.#prefix = `${prefix}presence:`;
    this.#online = `${this.#prefix}online`;
  }

  /** Activity, throttled to a write a second per user per instance. */
  readonly #activeWritten = new Map<string, number>();

  /** The user was active on this instance now (for idle timeouts that count the cluster). */
  noteActive(userId: string, now = Date.now()): void {
    if (now - (this.#activeWritten.get(userId) ?? 0) < 1000) return;
    this.#activeWritten.set(userId, now);
    if (this.#activeWritten.size > 100_000) this.#activeWritten.clear();
    // A key a user, forgotten a day after its last activity.
    this.redis()
      .set(`${this.#prefix}active:${userId}`, now, 'PX', ACTIVE_KEPT_MS)
      .catch(() => undefined);
  }

  /** When the user was last active on any instance (ms since the epoch). */
  async lastActive(userId: string): Promise<number | undefined> {
    const at = await this.#command((redis) => redis.get(`${this.#prefix}active:${userId}`));
    return at === null ? undefined : Number(at);
  }

  /** A Redis command, or BUSY when Redis is not reachable (during an outage). */
  #command<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
    return run(this.redis()).catch((error: unknown) => {
      throw new BusyError(`presence is not reachable (Redis): retry (${String(error)})`);
    });
  }

  /** The key of a user's socket counts. */
  sockets(userId: string): string {
    return `${this.#prefix}sockets:${userId}`;
  }

  /** The key of the users an instance has sockets of. */
  instance(instanceId: string): string {
    return `${this.#prefix}instance:${instanceId}`;
  }

  /**
   * Takes one of the user's socket slots on this instance, unless it holds `max` across the
   * cluster already: false then (TOO_MANY_SOCKETS).
   */
  async admit(userId: string, max: number): Promise<boolean> {
    const admitted = (await this.#command((redis) =>
      redis.eval(
        ADMIT,
        2,
        this.sockets(userId),
        this.instance(this.instanceId),
        this.instanceId,
        userId,
        max,
      ),
    )) as number;
    return admitted === 1;
  }

  /** Gives a slot back (the socket closed). */
  async release(userId: string): Promise<void> {
    await this.#command((redis) =>
      redis.eval(
        RELEASE,
        3,
        this.sockets(userId),
        this.instance(this.instanceId),
        this.#online,
        this.instanceId,
        userId,
      ),
    );
  }

  async arrived(user: UserRef): Promise<Announcement> {
    const [announce, toEveryone] = (await this.#command((redis) =>
      redis.eval(ARRIVED, 1, this.#online, user.id, user.name, this.maxToEveryone),
    )) as [number, number];
    return { announce: announce === 1, toEveryone: toEveryone === 1 };
  }

  /** Sockets are counted by admission, across the cluster. */
  reachable(): void {}

  /** The user's grace on this instance is over; announced when it has no socket anywhere. */
  async departed(user: UserRef): Promise<Announcement> {
    const [announce, toEveryone] = (await this.#command((redis) =>
      redis.eval(
        DEPARTED,
        3,
        this.#online,
        this.sockets(user.id),
        this.instance(this.instanceId),
        user.id,
        this.maxToEveryone,
        this.instanceId,
      ),
    )) as [number, number];
    return { announce: announce === 1, toEveryone: toEveryone === 1 };
  }

  async reachableRef(userId: string): Promise<UserRef | undefined> {
    const [[, sockets], [, entry]] = (await this.#command((redis) =>
      redis.multi().hlen(this.sockets(userId)).hget(this.#online, userId).exec(),
    )) as [[unknown, number], [unknown, string | null]];
    if (sockets === 0) return undefined;
    return { id: userId, name: nameOf(entry) ?? userId };
  }

  async onlineRef(userId: string): Promise<UserRef | undefined> {
    const name = nameOf(await this.#command((redis) => redis.hget(this.#online, userId)));
    return name === undefined ? undefined : { id: userId, name };
  }

  async list(): Promise<UserRef[]> {
    const all = await this.#command((redis) => redis.hgetall(this.#online));
    return Object.entries(all).map(([id, entry]) => ({ id, name: nameOf(entry) ?? id }));
  }

  async stillOnline(userIds: readonly string[]): Promise<ReadonlySet<string>> {
    if (userIds.length === 0) return new Set();
    const flags = await this.#command((redis) => redis.hmget(this.#online, ...userIds));
    return new Set(userIds.filter((_, i) => flags[i] !== null));
  }

  /**
   * An instance is gone: its sockets no longer count. Answers the users this left with no
   * socket anywhere, now offline, for the caller to announce; a second call answers none.
   */
  async reap(instanceId: string): Promise<Array<{ user: UserRef; toEveryone: boolean }>> {
    const gone = (await this.redis().eval(
      REAP,
      2,
      this.instance(instanceId),
      this.#online,
      instanceId,
      `${this.#prefix}sockets:`,
      this.maxToEveryone,
    )) as string[];
    const users: Array<{ user: UserRef; toEveryone: boolean }> = [];
    for (let i = 0; i < gone.length; i += 3) {
      users.push({ user: { id: gone[i], name: gone[i + 1] }, toEveryone: gone[i + 2] === '1' });
    }
    return users;
  }

  /**
   * After a Redis outage (Redis may have come back empty: it keeps nothing on disk): this
   * instance's users and their open sockets here, as they are now, with nobody told anything
   * (they never left). `users` is every user this instance has sockets of or whose grace runs
   * here (sockets 0); any other user it counted before is no longer counted here. The script
   * is sent before this returns, so commands issued after it run after it.
   */
  restore(users: ReadonlyArray<{ user: UserRef; sockets: number }>): Promise<void> {
    const args: Array<string | number> = [this.instanceId, `${this.#prefix}sockets:`];
    for (const { user, sockets } of users) args.push(user.id, user.name, sockets);
    return this.#command((redis) =>
      redis.eval(RESTORE, 2, this.instance(this.instanceId), this.#online, ...args),
    ).then(() => this.#logger.log(`presence of ${users.length} users restored`));
  }
}

/** How long a user's last activity is kept. */
const ACTIVE_KEPT_MS = 24 * 60 * 60 * 1000;

function nameOf(entry: string | null | undefined): string | undefined {
  if (entry === null || entry === undefined) return undefined;
  try {
    return (JSON.parse(entry) as { name: string }).name;
  } catch {
    return undefined;
  }
}

/** KEYS sockets:<user>, instance:<me>; ARGV instance, user, max. */
const ADMIT = `
local total = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(n) end
if total >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
return 1`;

/**
 * KEYS sockets:<user>, instance:<me>, online; ARGV instance, user. The user stays in
 * instance:<me> until it departs (its grace may be running here), unless it is not online.
 */
const RELEASE = `
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
end
return left`;

/** KEYS online; ARGV user, name, max: the first arrival anywhere announces. */
const ARRIVED = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0, 0} end
local count = redis.call('HLEN', KEYS[1]) + 1
local max = tonumber(ARGV[3])
local everyone = 0
if max == 0 or count <= max then everyone = 1 end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({name = ARGV[2], everyone = everyone}))
return {1, everyone}`;

/**
 * KEYS online, sockets:<user>, instance:<me>; ARGV user, max, instance: this instance is done
 * with the user (unless a socket came back here); the departure that leaves no socket
 * anywhere announces.
 */
const DEPARTED = `
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
if redis.call('HLEN', KEYS[2]) > 0 then return {0, 0} end
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return {0, 0} end
local max = tonumber(ARGV[2])
local everyone = cjson.decode(entry).everyone
if max == 0 or redis.call('HLEN', KEYS[1]) <= max then everyone = 1 end
redis.call('HDEL', KEYS[1], ARGV[1])
return {1, everyone}`;

/**
 * KEYS instance:<me>, online; ARGV instance, sockets key prefix, then (user, name, sockets)
 * for each user this instance has: exactly those counted here now.
 */
const RESTORE = `
local keep = {}
for i = 3, #ARGV, 3 do
  local user = ARGV[i]
  local sockets = tonumber(ARGV[i + 2])
  keep[user] = true
  if sockets > 0 then
    redis.call('HSET', ARGV[2] .. user, ARGV[1], sockets)
  else
    redis.call('HDEL', ARGV[2] .. user, ARGV[1])
  end
  redis.call('SADD', KEYS[1], user)
  redis.call('HSETNX', KEYS[2], user, cjson.encode({name = ARGV[i + 1], everyone = 1}))
end
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[user] then
    redis.call('HDEL', ARGV[2] .. user, ARGV[1])
    redis.call('SREM', KEYS[1], user)
  end
end
return 0`;

/** KEYS instance:<dead>, online; ARGV dead instance, sockets key prefix, max. */
const REAP = `
local gone = {}
local max = tonumber(ARGV[3])
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local sockets = ARGV[2] .. user
  redis.call('HDEL', sockets, ARGV[1])
  if redis.call('HLEN', sockets) == 0 then
    local entry = redis.call('HGET', KEYS[2], user)
    if entry then
      local decoded = cjson.decode(entry)
      local everyone = decoded.everyone
      if max == 0 or redis.call('HLEN', KEYS[2]) <= max then everyone = 1 end
      redis.call('HDEL', KEYS[2], user)
      table.insert(gone, user)
      table.insert(gone, decoded.name)
      table.insert(gone, tostring(everyone))
    end
  end
end
redis.call('DEL', KEYS[1])
return gone`;

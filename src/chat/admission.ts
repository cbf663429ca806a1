import { Injectable, Optional } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { TokenBucket } from '../common/token-bucket.js';
import { AppConfig } from '../config/app-config.js';
import type { HandshakeRefusal } from '../contract/events.js';
import { RedisConnection } from '../redis/redis.connection.js';
import { UsersService } from '../users/users.service.js';

/** Refusal codes a handshake may get from admission (connect_error `message`). */
export type AdmissionRefusal = Extract<
  HandshakeRefusal,
  'RATE_LIMITED' | 'TOO_MANY_SOCKETS' | 'SHUTTING_DOWN'
>;

interface AddressBucket {
  bucket: TokenBucket;
  lastSeen: number;
}

/**
 * Who may open a socket, before any chat work is done for it: at most CONNECT_RATE_PER_IP
 * new connections per address per CONNECT_RATE_WINDOW_MS, at most MAX_SOCKETS_PER_USER
 * open sockets per user on this instance, and at most MAX_PENDING_HANDSHAKES_PER_IP
 * engine.io sessions per address that have not completed a socket.io CONNECT yet.
 */
@Injectable()
export class Admission {
  readonly #addresses = new Map<string, AddressBucket>();
  /** Open sockets per user on this instance, counted from the moment a handshake is let through. */
  readonly #sockets = new Map<string, number>();
  /**
   * Cluster mode: how many of them are counted here only, not in Redis (admitted while Redis
   * was away); all are moved into Redis when it is back (UsersService restores them).
   */
  readonly #unshared = new Map<string, number>();
  /** engine.io sessions per address not yet connected to a namespace (nor closed). */
  readonly #pending = new Map<string, number>();
  #sweptAt = Date.now();

  constructor(
    private readonly config: AppConfig,
    // Cluster mode's shared slots; absent in unit tests of the per-address rules.
    @Optional() private readonly users?: UsersService,
    @Optional() private readonly redis?: RedisConnection,
  ) {
    users?.useSocketCounts({
      open: () => this.#sockets,
      shared: () => this.#unshared.clear(),
    });
  }

  /**
   * The client's address: the socket's peer, or behind one trusted proxy the last
   * X-Forwarded-For hop, the one that proxy appended (earlier hops are the client's to write).
   */
  addressOf(peer: string, headers: IncomingHttpHeaders): string {
    if (!this.config.trustProxy) return peer;
    const forwarded = headers['x-forwarded-for'];
    const joined = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
    const last = joined?.split(',').at(-1)?.trim();
    return last || peer;
  }

  /** Counts a new connection from `address`; RATE_LIMITED when it is over its rate. */
  admitAddress(address: string, now = Date.now()): AdmissionRefusal | undefined {
    const burst = this.config.connectRatePerIp;
    if (burst === 0) return undefined;
    const windowMs = this.config.connectRateWindowMs;
    this.#forgetQuietAddresses(now, windowMs);
    let entry = this.#addresses.get(address);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(burst, (burst * 1000) / windowMs, now), lastSeen: now };
      this.#addresses.set(address, entry);
    }
    entry.lastSeen = now;
    return entry.bucket.take(now) === 0 ? undefined : 'RATE_LIMITED';
  }

  /**
   * Takes one of the user's socket slots, so handshakes racing each other cannot all pass;
   * TOO_MANY_SOCKETS when none is left. Give it back with `release`. On one instance the slot
   * is taken before this returns; in cluster mode the slots count every instance (in Redis,
   * one script), and while Redis is down this instance counts its own, moved into Redis when
   * it is back.
   */
  async admitUser(userId: string): Promise<AdmissionRefusal | undefined> {
    const shared = this.users?.sharedSlots;
    if (shared !== undefined && this.redis?.ready === true) {
      try {
        const admitted = await shared.admit(userId, this.config.maxSocketsPerUser);
        if (!admitted) return 'TOO_MANY_SOCKETS';
        increment(this.#sockets, userId);
        return undefined;
      } catch {
        // Redis went away meanwhile: counted here, and made right when it is back.
      }
    }
    if ((this.#sockets.get(userId) ?? 0) >= this.config.maxSocketsPerUser) {
      return 'TOO_MANY_SOCKETS';
    }
    increment(this.#sockets, userId);
    if (shared !== undefined) increment(this.#unshared, userId);
    return undefined;
  }

  release(userId: string): void {
    decrement(this.#sockets, userId);
    const shared = this.users?.sharedSlots;
    if (shared === undefined) return;
    // One counted here only goes first: Redis holds the others.
    if (this.#unshared.has(userId)) decrement(this.#unshared, userId);
    // Lost during an outage: the restore when Redis is back sets the count right.
    else shared.release(userId).catch(() => undefined);
  }

  /**
   * Counts a new engine.io session from `address` as pending, synchronously, so sessions
   * racing each other cannot all pass; RATE_LIMITED, counting nothing, when the address
   * already holds MAX_PENDING_HANDSHAKES_PER_IP of them (0: no limit, nothing counted). Give
   * it back with `releasePending`, once, when the session connects or closes.
   */
  admitPending(address: string): AdmissionRefusal | undefined {
    const limit = this.config.maxPendingHandshakesPerIp;
    if (limit === 0) return undefined;
    const pending = this.#pending.get(address) ?? 0;
    if (pending >= limit) return 'RATE_LIMITED';
    this.#pending.set(address, pending + 1);
    return undefined;
  }

  releasePending(address: string): void {
    const pending = this.#pending.get(address);
    if (pending === undefined) return;
    if (pending > 1) this.#pending.set(address, pending - 1);
    else this.#pending.delete(address);
  }

  /** An address quiet for a whole window has a full bucket again: no need to keep it. */
  #forgetQuietAddresses(now: number, windowMs: number): void {
    if (now - this.#sweptAt < windowMs) return;
    this.#sweptAt = now;
    for (const [address, entry] of this.#addresses) {
      if (now - entry.lastSeen >= windowMs) this.#addresses.delete(address);
    }
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

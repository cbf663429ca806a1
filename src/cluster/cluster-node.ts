import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AppConfig } from '../config/app-config.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import type { PostgresCluster } from '../store/postgres/postgres-cluster.js';
import type { PostgresStore } from '../store/postgres/postgres.store.js';

/** A lease is renewed this many times within its length. */
const BEATS_PER_LEASE = 3;
/** The watchdog looks at the lease this many times a beat. */
const WATCHES_PER_BEAT = 2;

export type InstanceGoneListener = (instanceId: string) => Promise<void> | void;

/**
 * This instance in the cluster (cluster mode: REDIS_URL with the PostgreSQL store): its id,
 * and a lease in PostgreSQL renewed every third of CLUSTER_LEASE_MS. An instance whose lease
 * ran out is dead for the others: they take its rooms over and clean its leftovers up (the
 * first to forget it runs the InstanceGone listeners). This instance stops acting as an owner
 * as soon as it cannot be sure its own lease holds (it fences itself; the store's epochs make
 * sure it could not write anyway).
 */
@Injectable()
export class ClusterNode implements OnApplicationShutdown {
  readonly #logger = new Logger(ClusterNode.name);
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly enabled: boolean;
  readonly leaseMs: number;
  readonly #store: PostgresCluster | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Declares the lease lost on time, whatever a heartbeat stuck in PostgreSQL does. */
  #watchdog: NodeJS.Timeout | undefined;
  /** Until when (performance.now()) this instance's lease surely holds. */
  #leaseHoldsUntil = 0;
  #live: ReadonlySet<string> = new Set();
  #beating: Promise<void> | undefined;
  #reaping: Promise<void> | undefined;
  #lastBeat = 0;
  /** Since when (performance.now()) every heartbeat has come through in time; 0: not now. */
  #healthySince = 0;
  #registered = false;
  readonly #forgotten: Array<() => void> = [];
  readonly #leaseLost: Array<() => void> = [];
  readonly #instanceGone: InstanceGoneListener[] = [];
  #stopped = false;
  #left = false;

  constructor(config: AppConfig, @Inject(MESSAGE_STORE) store: MessageStore) {
    this.enabled = config.clusterMode;
    this.leaseMs = config.clusterLeaseMs;
    this.#store = 'cluster' in store ? (store as PostgresStore).cluster : undefined;
  }

  /** The cluster's shared state in PostgreSQL. */
  get store(): PostgresCluster {
    if (this.#store === undefined) throw new Error('not in cluster mode');
    return this.#store;
  }

  /** Whether this instance may act as a room owner now. */
  get holdsLease(): boolean {
    return !this.enabled || performance.now() < this.#leaseHoldsUntil;
  }

  /**
   * Whether this instance has held its lease for a whole lease period. Only then does it count
   * other instances dead by their leases (taking their rooms, cleaning up after them): after an
   * outage of PostgreSQL every lease has run out, and the others need a beat to renew theirs.
   */
  get settled(): boolean {
    return this.#healthySince > 0 && performance.now() - this.#healthySince >= this.leaseMs;
  }

  /** Live instances as of the last heartbeat (this one included). */
  isAlive(instanceId: string): boolean {
    return instanceId === this.id || this.#live.has(instanceId);
  }

  get liveInstances(): readonly string[] {
    return [...this.#live];
  }

  /** Joins the cluster (its first lease) and starts renewing; rejects when PostgreSQL refuses. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.#beat();
    if (!this.holdsLease) throw new Error('could not take a lease in PostgreSQL');
    this.#timer = setInterval(() => void this.#beatOnce(), this.leaseMs / BEATS_PER_LEASE);
    this.#timer.unref();
    this.#watchdog = setInterval(
      () => this.#watch(),
      this.leaseMs / BEATS_PER_LEASE / WATCHES_PER_BEAT,
    );
    this.#watchdog.unref();
    this.#logger.debug(
      `cluster instance ${this.id} (lease ${this.leaseMs} ms, ${this.#live.size} live)`,
    );
  }

  /** Called once when this instance can no longer be sure of its lease. */
  onLeaseLost(listener: () => void): void {
    this.#leaseLost.push(listener);
  }

  /** Called when the others counted this instance dead (and cleaned up after it). */
  onForgotten(listener: () => void): void {
    this.#forgotten.push(listener);
  }

  /** Called with each dead instance, on the one instance that forgets it. */
  onInstanceGone(listener: InstanceGoneListener): void {
    this.#instanceGone.push(listener);
  }

  /**
   * A clean stop, once this instance's rooms are handed back (heartbeats go on until then:
   * the rooms are served while the mailboxes drain): the lease ends after `lingerMs` (the
   * presence grace), when the others clean up after this instance.
   */
  async leave(lingerMs: number): Promise<void> {
    if (!this.enabled || this.#left) return;
    this.#left = true;
    this.#stop();
    await this.#beating?.catch(() => undefined);
    await this.store.leave(this.id, lingerMs).catch((error: unknown) => {
      this.#logger.warn(`could not leave the cluster cleanly: ${String(error)}`);
    });
  }

  /** After the rooms' own shutdown (which leaves), before the store closes. */
  onApplicationShutdown(): void {
    this.#stop();
  }

  #stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#watchdog);
  }

  #beatOnce(): void {
    if (this.#beating !== undefined || this.#stopped) return;
    this.#beating = this.#beat().finally(() => (this.#beating = undefined));
  }

  /** The lease ran out with no heartbeat through meanwhile (PostgreSQL away, or silent). */
  #watch(): void {
    if (this.#leaseHoldsUntil > 0 && performance.now() >= this.#leaseHoldsUntil) {
      this.#loseLease('no heartbeat came through within the lease');
    }
  }

  #loseLease(why: string): void {
    if (this.#leaseHoldsUntil === 0) return;
    this.#leaseHoldsUntil = 0;
    this.#healthySince = 0;
    this.#logger.error(
      `lease lost (${why}): this instance stops owning rooms until it holds one again`,
    );
    for (const listener of this.#leaseLost) listener();
  }

  async #beat(): Promise<void> {
    const sent = performance.now();
    // A beat this late means this process was frozen (SIGSTOP, a long pause) past its lease:
    // others may own its rooms now, whatever the heartbeat answers.
    const gap = this.#lastBeat === 0 ? 0 : sent - this.#lastBeat;
    this.#lastBeat = sent;
    if (gap > this.leaseMs && this.#leaseHoldsUntil > 0) {
      this.#logger.warn(`no heartbeat for ${Math.round(gap)} ms: rooms dropped`);
      for (const listener of this.#leaseLost) listener();
    }
    // Each query of a beat gives up in time for the next beat.
    const timeoutMs = this.leaseMs / BEATS_PER_LEASE;
    try {
      const fresh = await this.store.heartbeat(this.id, this.leaseMs, timeoutMs);
      // Measured from before the request: the server's lease began no earlier than that.
      this.#leaseHoldsUntil = sent + this.leaseMs - this.leaseMs / BEATS_PER_LEASE;
      if (this.#healthySince === 0 || gap > this.leaseMs) this.#healthySince = sent;
      if (fresh && this.#registered) {
        this.#logger.warn('the others counted this instance gone: its clients reconnect');
        for (const listener of this.#forgotten) listener();
      }
      this.#registered = true;
      this.#live = new Set(await this.store.liveInstances(timeoutMs));
      // Beside the beat, never in its way (cleaning up waits for Redis).
      if (this.settled && this.#reaping === undefined) {
        this.#reaping = this.#reapExpired(timeoutMs)
          .catch((error: unknown) => this.#logger.warn(`reaping failed: ${String(error)}`))
          .finally(() => (this.#reaping = undefined));
      }
    } catch (error) {
      this.#healthySince = 0;
      this.#logger.warn(`lease not renewed: ${String(error)}`);
    }
    if (!this.holdsLease) this.#loseLease('heartbeats failed');
  }

  /**
   * Instances whose lease ran out: the first to forget one cleans up after it. One whose clean
   * up failed (Redis away) is not forgotten: the next beat tries again.
   */
  async #reapExpired(timeoutMs: number): Promise<void> {
    for (const instanceId of await this.store.expiredInstances(timeoutMs)) {
      if (instanceId === this.id) continue;
      let cleaned = true;
      for (const listener of this.#instanceGone) {
        await Promise.resolve(listener(instanceId)).catch((error: unknown) => {
          cleaned = false;
          this.#logger.warn(`cleaning up after ${instanceId} failed: ${String(error)}`);
        });
      }
      if (!cleaned) continue;
      if (await this.store.forgetInstance(instanceId, timeoutMs)) {
        this.#logger.log(`instance ${instanceId} is gone: its leftovers are cleaned up`);
      }
    }
  }
}

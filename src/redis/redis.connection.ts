import { ThrottledWarning } from './throttled-warning.js';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { redactedRedisUrl, redisOptionsFromUrl, type RedisUrlOptions } from './redis.options.js';

/** Redis could not be reached at start: an operator's problem, reported in one line. */
export class RedisConnectError extends Error {
  override readonly name = 'RedisConnectError';
}

/** How long the first connection may take before the service gives up starting. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Between two attempts of the first connection. */
const START_RETRY_MS = 250;
/** Reconnect backoff after a lost connection: 100 ms, 200 ms, ... up to 2 s, for ever. */
const retryDelay = (attempt: number): number => Math.min(attempt * 100, 2000);

/**
 * The service's own Redis clients when `REDIS_URL` is set: `commands` (publish, ping) and
 * `subscriber` (subscriber mode), used by the socket.io adapter and open to others (a
 * readiness check pings `commands`). Connected once at start, closed at shutdown, after
 * the socket server. Nest's Redis transport opens its own pair (redis.transport.ts).
 */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  readonly #logger = new Logger(RedisConnection.name);
  readonly #url: string | undefined;
  #commands: Redis | undefined;
  #subscriber: Redis | undefined;
  /** Cluster mode: a subscriber of the instances' own channels (ClusterBus). */
  #busSubscriber: Redis | undefined;
  readonly #cluster: boolean;
  /** Set once both clients were ready: from then on ioredis reconnects by itself. */
  #started = false;
  readonly #errors = new ThrottledWarning(this.#logger);

  constructor(config: AppConfig) {
    this.#url = config.redisUrl;
    this.#cluster = config.clusterMode;
  }

  /** Whether REDIS_URL is set. */
  get enabled(): boolean {
    return this.#url !== undefined;
  }

  /** The URL without its password, for logs and reports. */
  get location(): string {
    return this.#url === undefined ? 'none' : redactedRedisUrl(this.#url);
  }

  /** ioredis options of REDIS_URL, for clients opened elsewhere (Nest's transport). */
  get options(): RedisUrlOptions {
    return redisOptionsFromUrl(this.#require());
  }

  /** The client for commands and publishing. */
  get commands(): Redis {
    if (this.#commands === undefined) throw new Error('RedisConnection.connect() was not called');
    return this.#commands;
  }

  /** A client in subscriber mode (socket.io adapter). */
  get subscriber(): Redis {
    if (this.#subscriber === undefined) throw new Error('RedisConnection.connect() was not called');
    return this.#subscriber;
  }

  /** Cluster mode: a client in subscriber mode for the instances' own channels. */
  get busSubscriber(): Redis {
    if (this.#busSubscriber === undefined) throw new Error('not in cluster mode');
    return this.#busSubscriber;
  }

  /** Whether commands go through now (not during an outage: callers answer BUSY at once). */
  get ready(): boolean {
    return this.#commands?.status === 'ready';
  }

  /**
   * Opens both clients; rejects with RedisConnectError when Redis does not answer within
   * 10 s. Later outages are retried for ever (commands wait in ioredis' offline queue for
   * up to 20 reconnect attempts, then fail).
   * Does nothing when REDIS_URL is unset or when already connected.
   */
  async connect(): Promise<void> {
    if (this.#url === undefined || this.#commands !== undefined) return;
    // Loaded only when REDIS_URL is set: a single instance never needs it in memory.
    const { Redis } = await import('ioredis');
    let lastError: Error | undefined;
    const make = (role: string): Redis => {
      const client = new Redis({
        ...redisOptionsFromUrl(this.#url as string),
        connectionName: `actor-chat:${role}`,
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        // During an outage a command fails at once (callers answer BUSY, broadcasts to other
        // instances are dropped) instead of waiting in a queue that grows without bound.
        enableOfflineQueue: role === 'subscriber' || role === 'cluster-bus',
        // Until started, connect() retries (a client that gave up leaves nothing running).
        retryStrategy: (attempt) => (this.#started ? retryDelay(attempt) : null),
      });
      client.on('error', (error: Error) => {
        lastError = error;
        this.#reportError(role, error);
      });
      return client;
    };
    this.#commands = guardPublish(make('commands'), (error) => this.#reportError('publish', error));
    this.#subscriber = make('subscriber');
    if (this.#cluster) this.#busSubscriber = make('cluster-bus');
    const clients = [this.#commands, this.#subscriber, this.#busSubscriber].filter(
      (client) => client !== undefined,
    );
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    const results = await Promise.allSettled(clients.map((client) => connectBy(client, deadline)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      for (const client of clients) if (client.status !== 'end') client.disconnect();
      this.#commands = this.#subscriber = this.#busSubscriber = undefined;
      // ioredis rejects with "Connection is closed"; the error event said why.
      const reason: unknown = lastError ?? failed.reason;
      throw new RedisConnectError(
        `REDIS_URL: cannot connect to ${this.location} within ${CONNECT_TIMEOUT_MS / 1000} s: ` +
          messageOf(reason),
      );
    }
    this.#started = true;
    this.#logger.debug(`connected to ${this.location}`);
  }

  /** Resolves when Redis answers PING; rejects at once while disconnected. For readiness. */
  async ping(): Promise<void> {
    const status = this.commands.status;
    if (status !== 'ready') throw new Error(`redis at ${this.location} is ${status}`);
    const answer = await this.commands.ping();
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const clients = [this.#commands, this.#subscriber, this.#busSubscriber].filter(
      (c) => c !== undefined,
    );
    this.#commands = this.#subscriber = this.#busSubscriber = undefined;
    await Promise.all(
      clients.map((client) =>
        client.status === 'ready'
          ? client.quit().catch(() => client.disconnect())
          : client.disconnect(),
      ),
    );
  }

  #require(): string {
    if (this.#url === undefined) throw new Error('REDIS_URL is not set');
    return this.#url;
  }

  #reportError(role: string, error: Error): void {
    this.#errors.warn(`redis (${role}) at ${this.location}: ${error.message}`);
  }
}

/** An error's message, also for errors of another realm (node:net's, seen from jest). */
function messageOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error
    ? String(error.message)
    : String(error);
}

/** Connects, trying again until the deadline (Redis may start a moment after the service). */
async function connectBy(client: Redis, deadline: number): Promise<void> {
  for (;;) {
    try {
      await client.connect();
      return;
    } catch (error) {
      if (Date.now() + START_RETRY_MS >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, START_RETRY_MS));
    }
  }
}

/**
 * socket.io's Redis adapter publishes without handling the promise; a publish that fails
 * during an outage would be an unhandled rejection (a crash). Broadcasts to other instances
 * are fire and forget either way, so a failed one is reported and dropped.
 */
function guardPublish(client: Redis, onError: (error: Error) => void): Redis {
  type Publish = (...args: unknown[]) => Promise<number>;
  const publish = client.publish.bind(client) as Publish;
  (client as unknown as { publish: Publish }).publish = (...args) => {
    const sent = publish(...args);
    sent.catch(onError);
    return sent;
  };
  return client;
}

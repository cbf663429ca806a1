import { ThrottledWarning } from './throttled-warning.js';
import { Logger } from '@nestjs/common';
import { type CustomStrategy, type RedisOptions, ServerRedis } from '@nestjs/microservices';
import type { RedisConnection } from './redis.connection.js';

type ServerOptions = Required<RedisOptions>['options'];

/**
 * Nest's Redis transport with every channel prefixed (REDIS_PREFIX), so that several
 * deployments, or test runs, can share one Redis. A caller needs nothing special: a plain
 * `Transport.REDIS` ClientProxy sending `<prefix>rooms.put` gets its reply, since requests
 * arrive on `<prefix><pattern>` and replies go to `<prefix><pattern>.reply`.
 */
export class PrefixedRedisServer extends ServerRedis {
  readonly #log = new Logger('RedisTransport');
  readonly #errors = new ThrottledWarning(this.#log);

  constructor(
    options: ServerOptions,
    private readonly prefix: string,
    /** Cluster mode: every instance hears each request; only the first to claim it answers. */
    private readonly claimRequests = false,
  ) {
    super(options);
  }

  override getRequestPattern(pattern: string): string {
    return `${this.prefix}${pattern}`;
  }

  override getReplyPattern(pattern: string): string {
    return `${this.prefix}${pattern}.reply`;
  }

  /** Handlers are registered by their bare pattern: the channel loses its prefix first. */
  override async handleMessage(
    channel: string,
    buffer: string,
    pub: unknown,
    pattern: string,
  ): Promise<unknown> {
    if (this.claimRequests && !(await this.#claim(buffer))) return undefined;
    return super.handleMessage(this.#bare(channel), buffer, pub, this.#bare(pattern));
  }

  /** A request runs on one instance: the one whose claim on its id comes first. */
  async #claim(buffer: string): Promise<boolean> {
    let id: unknown;
    try {
      id = (JSON.parse(buffer.toString()) as { id?: unknown }).id;
    } catch {
      return true;
    }
    if (typeof id !== 'string' && typeof id !== 'number') return true;
    const claimed = await this.pubClient
      ?.set(`${this.prefix}admin-request:${String(id)}`, '1', 'PX', 60_000, 'NX')
      .catch(() => null);
    return claimed === 'OK';
  }

  override registerErrorListener(client: {
    on: (event: string, fn: (error: Error) => void) => void;
  }): void {
    client.on('error', (error) => this.#errors.warn(`redis: ${error.message}`));
  }

  /** A Redis that is down at shutdown has nothing to close cleanly: stop without it. */
  override async close(): Promise<void> {
    try {
      await super.close();
    } catch (error) {
      this.#log.warn(`redis transport closed without Redis: ${String(error)}`);
      // The quit that failed may have been the first: drop both connections outright.
      for (const client of [this.pubClient, this.subClient]) client?.disconnect();
    }
  }

  #bare(channel: string): string {
    return channel.startsWith(this.prefix) ? channel.slice(this.prefix.length) : channel;
  }
}

/**
 * The microservice options of a hybrid app serving its message patterns over REDIS_URL,
 * reconnecting for ever after an outage (Nest's default is to give up).
 */
export function redisTransport(
  redis: RedisConnection,
  prefix: string,
  cluster: boolean,
): CustomStrategy {
  return {
    strategy: new PrefixedRedisServer(
      {
        ...redis.options,
        connectionName: 'actor-chat:transport',
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryDelay: 1000,
      },
      prefix,
      cluster,
    ),
  };
}

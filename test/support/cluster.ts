/**
 * Several instances of the built service as one cluster: real processes on PostgreSQL (a schema
 * of the test's own) and Redis (a REDIS_PREFIX of its own), both dropped afterwards. Either
 * service may sit behind a TcpProxy, so that a test can cut it off.
 */
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Clients } from './chat-app.js';
import { ServerProcess } from './server-process.js';
import { POSTGRES_URL, REDIS_URL, uniqueSchema } from './services.js';
import { dropPostgresSchema } from './store-kits.js';
import { TcpProxy } from './tcp-proxy.js';

export interface ClusterOptions {
  instances?: number;
  /** On top of the cluster's own: DATABASE_URL, DATABASE_SCHEMA, REDIS_URL, REDIS_PREFIX. */
  env?: Record<string, string>;
  /** Put PostgreSQL, or Redis, behind a proxy the test controls. */
  proxyPostgres?: boolean;
  proxyRedis?: boolean;
}

export class TestCluster {
  readonly servers: ServerProcess[] = [];
  /** One client tracker per instance: `clients[0]` connects to the first. */
  readonly clients: Clients[] = [];
  readonly schema = uniqueSchema('chat_cluster');
  readonly prefix = `test-${randomBytes(4).toString('hex')}:`;
  postgresProxy: TcpProxy | undefined;
  redisProxy: TcpProxy | undefined;
  #env: Record<string, string> = {};

  constructor(private readonly options: ClusterOptions = {}) {}

  async start(): Promise<this> {
    let databaseUrl = POSTGRES_URL;
    let redisUrl = REDIS_URL;
    if (this.options.proxyPostgres === true) {
      [this.postgresProxy, databaseUrl] = await TcpProxy.inFront(POSTGRES_URL, 5432);
    }
    if (this.options.proxyRedis === true) {
      [this.redisProxy, redisUrl] = await TcpProxy.inFront(REDIS_URL, 6379);
    }
    this.#env = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: this.schema,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: this.prefix,
      // Departures at once: the tests about the grace set their own.
      PRESENCE_GRACE_MS: '0',
      ...this.options.env,
    };
    // All at once, as a deployment would start them.
    await Promise.all(
      Array.from({ length: this.options.instances ?? 2 }, () => this.addInstance()),
    );
    return this;
  }

  /** One more instance, same settings (e.g. a replacement). */
  async addInstance(extraEnv: Record<string, string> = {}): Promise<number> {
    const server = new ServerProcess({ ...this.#env, ...extraEnv });
    const index = this.servers.push(server) - 1;
    this.clients[index] = new Clients(() => server.url);
    await server.start(30_000);
    return index;
  }

  url(index: number): string {
    return this.servers[index].url;
  }

  /** Stops every instance (SIGKILL: the tests that stop one gracefully do so themselves). */
  async stop(): Promise<void> {
    for (const clients of this.clients) clients?.closeAll();
    await Promise.all(this.servers.map((server) => server.stop('SIGKILL').catch(() => null)));
    await this.postgresProxy?.close();
    await this.redisProxy?.close();
    await dropPostgresSchema(this.schema).catch(() => undefined);
    await deleteRedisKeys(this.prefix);
  }
}

/** Deletes every Redis key under `prefix` (a test's own). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls an outcome that no event announces (a room closing, a user gone from a list). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The ids of the rooms an instance's admin snapshot lists. */
export async function roomIdsOf(url: string): Promise<string[]> {
  const response = await fetch(`${url}/api/snapshot`);
  const snapshot = (await response.json()) as { rooms: Array<{ id: string }> };
  return snapshot.rooms.map((room) => room.id);
}

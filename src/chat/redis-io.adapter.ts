import type { INestApplicationContext } from '@nestjs/common';
import { RedisAdapter, type RedisAdapterOptions } from '@socket.io/redis-adapter';
import type { Namespace, Server, ServerOptions } from 'socket.io';
import { ChatIoAdapter } from './chat-io.adapter.js';
import type { AppConfig } from '../config/app-config.js';
import type { RedisConnection } from '../redis/redis.connection.js';

/**
 * The chat's socket.io server with the Redis adapter: every broadcast (a room channel, a
 * user channel, everyone) and every socketsJoin / socketsLeave / disconnectSockets also
 * reaches the sockets connected to the other instances on the same Redis and REDIS_PREFIX.
 */
export class RedisIoAdapter extends ChatIoAdapter {
  readonly #key: string;

  constructor(
    app: INestApplicationContext,
    config: AppConfig,
    private readonly redis: RedisConnection,
  ) {
    super(app, config);
    this.#key = `${config.redisPrefix}socket.io`;
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const server = super.createIOServer(port, options);
    const { commands, subscriber } = this.redis;
    const key = this.#key;
    // socket.io calls it with `new`: a plain function, not an arrow.
    server.adapter(function (nsp: Namespace) {
      return new LocalFirstRedisAdapter(nsp, commands, subscriber, {
        key,
      }) as unknown as RedisAdapter;
    });
    return server;
  }
}

type BroadcastOptions = Parameters<RedisAdapter['addSockets']>[0];
type Room = Parameters<RedisAdapter['addSockets']>[1][number];

/** The part of RedisAdapter this file extends; `onrequest` is private in its typings only. */
interface OpenRedisAdapter {
  readonly uid: string;
  addSockets(opts: BroadcastOptions, rooms: Room[]): void;
  delSockets(opts: BroadcastOptions, rooms: Room[]): void;
  disconnectSockets(opts: BroadcastOptions, close: boolean): void;
  onrequest(channel: string | Buffer, message: Buffer): Promise<void>;
}
const OpenRedisAdapter = RedisAdapter as unknown as new (
  nsp: Namespace,
  pubClient: unknown,
  subClient: unknown,
  opts?: Partial<RedisAdapterOptions>,
) => OpenRedisAdapter;

/** socket.io-redis request types a node sends to every node, itself included. */
const REMOTE_JOIN = 2;
const REMOTE_LEAVE = 3;
const REMOTE_DISCONNECT = 4;

/**
 * The Redis adapter applies socketsJoin, socketsLeave and disconnectSockets only when its
 * own request comes back from Redis, even for local sockets: a room's `room_join`, broadcast
 * right after its joinChannel, would miss the joiner. This one applies them to local sockets
 * at once, as the in-memory adapter does, sends them to the other nodes, and ignores its own
 * request when it comes back (applying it again could undo a later leave or join).
 */
class LocalFirstRedisAdapter extends OpenRedisAdapter {
  override addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    super.addSockets(local(opts), rooms);
    if (opts.flags?.local !== true) super.addSockets(opts, rooms);
  }

  override delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    super.delSockets(local(opts), rooms);
    if (opts.flags?.local !== true) super.delSockets(opts, rooms);
  }

  override disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    super.disconnectSockets(local(opts), close);
    if (opts.flags?.local !== true) super.disconnectSockets(opts, close);
  }

  override onrequest(channel: string | Buffer, message: Buffer): Promise<void> {
    if (this.#isOwnSocketsRequest(message)) return Promise.resolve();
    return super.onrequest(channel, message);
  }

  #isOwnSocketsRequest(message: Buffer): boolean {
    // These requests are JSON; others may be msgpack (and are never ours to skip).
    if (message[0] !== 0x7b || !message.includes(this.uid)) return false;
    try {
      const request = JSON.parse(message.toString()) as { uid?: unknown; type?: unknown };
      return (
        request.uid === this.uid &&
        (request.type === REMOTE_JOIN ||
          request.type === REMOTE_LEAVE ||
          request.type === REMOTE_DISCONNECT)
      );
    } catch {
      return false;
    }
  }
}

function local(opts: BroadcastOptions): BroadcastOptions {
  return { ...opts, flags: { ...opts.flags, local: true } };
}

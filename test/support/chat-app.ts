import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { io, type Socket } from 'socket.io-client';
import { createApp } from '../../src/app.factory.js';
import { AppConfig } from '../../src/config/app-config.js';
import type {
  ChatMessage,
  ClientEventInput,
  ClientEventName,
  ClientEventResult,
  ClientToServerEvents,
  Reply,
  ServerToClientEvents,
} from '../../src/contract/events.js';

/** A socket.io-client socket, typed by the contract (the server's own is contract/sockets.ts). */
export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface RunningApp {
  app: INestApplication;
  config: AppConfig;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the real Nest application on a free port (port 0) with the given environment
 * on top of test defaults: memory store, quiet logs, departures at once.
 */
export async function startApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    STORE: 'memory',
    // Departures at once: the suites about the grace set their own.
    PRESENCE_GRACE_MS: '0',
    ...env,
  });
  const app = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  await app.startAllMicroservices(); // none unless REDIS_URL is set
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return { app, config, url, close: () => app.close() };
}

/** What the server sends besides `message`: `typing`, `chat:error`, `server:shutdown`. */
export type ServerEventName = Exclude<keyof ServerToClientEvents, 'message'>;
export type ServerEvent<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

/** Keeps every item of one kind, in order, and lets a test await the ones it expects. */
class Recording<T> {
  readonly items: T[] = [];
  #waiters: Array<{ test: (item: T) => boolean; resolve: (item: T) => void }> = [];

  constructor(private readonly what: string) {}

  add(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(item)) return true;
      w.resolve(item);
      return false;
    });
  }

  /** Resolves with the first item (already received or still to come) that matches. */
  waitFor(test: (item: T) => boolean, timeoutMs: number): Promise<T> {
    const seen = this.items.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching ${this.what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        test,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      });
    });
  }

  /** Resolves once `count` items matching `test` have been received. */
  async waitForCount(test: (item: T) => boolean, count: number, timeoutMs: number): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.items.filter(test);
      if (matching.length >= count) return matching;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`got ${matching.length} of ${count} ${this.what}s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push({
          test: () => true,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
  }
}

/**
 * A socket.io client that keeps every `message` it receives, in order, and every other
 * server event (`typing`, `read`, `chat:error`, `server:shutdown`) by name; tests await them here.
 */
export class TestClient {
  readonly socket: ClientSocket;
  readonly #messages = new Recording<ChatMessage>('message');
  readonly #events: { [E in ServerEventName]: Recording<ServerEvent<E>> } = {
    typing: new Recording('typing event'),
    read: new Recording('read receipt'),
    'chat:error': new Recording('chat:error event'),
    'server:shutdown': new Recording('server:shutdown event'),
  };

  /** Whether stored memos are acknowledged, as the project's clients do (a v1 client does not). */
  acknowledgeMemos = true;

  constructor(socket: ClientSocket) {
    this.socket = socket;
    socket.on('message', (message, received) => {
      if (this.acknowledgeMemos && typeof received === 'function') received();
      this.#messages.add(message);
    });
    socket.on('typing', (event) => this.#events.typing.add(event));
    socket.on('read', (event) => this.#events.read.add(event));
    socket.on('chat:error', (error) => this.#events['chat:error'].add(error));
    socket.on('server:shutdown', (notice) => this.#events['server:shutdown'].add(notice));
  }

  /** Every `message` received so far, in order. */
  get received(): readonly ChatMessage[] {
    return this.#messages.items;
  }

  /** Every `event` (other than `message`) received so far, in order. */
  events<E extends ServerEventName>(event: E): readonly ServerEvent<E>[] {
    return this.#events[event].items as readonly ServerEvent<E>[];
  }

  /** Sends an event and resolves with its reply (ok or not). */
  request<E extends ClientEventName>(
    event: E,
    payload?: ClientEventInput<E> | unknown,
    timeoutMs = 5000,
  ): Promise<Reply<ClientEventResult<E>>> {
    const emit = this.socket.timeout(timeoutMs).emitWithAck as unknown as (
      event: string,
      ...args: unknown[]
    ) => Promise<Reply<ClientEventResult<E>>>;
    return payload === undefined
      ? emit.call(this.socket.timeout(timeoutMs), event)
      : emit.call(this.socket.timeout(timeoutMs), event, payload);
  }

  /** Sends an event and returns its success data; throws on an error reply. */
  async ok<E extends ClientEventName>(
    event: E,
    payload?: ClientEventInput<E>,
  ): Promise<ClientEventResult<E>> {
    const reply = await this.request(event, payload);
    if (!reply.ok) throw new Error(`${event} failed: ${reply.error.code} ${reply.error.message}`);
    return reply as unknown as ClientEventResult<E>;
  }

  /** Resolves with the first message (already received or still to come) that matches. */
  waitFor(test: (m: ChatMessage) => boolean, timeoutMs = 5000): Promise<ChatMessage> {
    return this.#messages.waitFor(test, timeoutMs);
  }

  /** Resolves once `count` messages matching `test` have been received. */
  waitForCount(
    test: (m: ChatMessage) => boolean,
    count: number,
    timeoutMs = 5000,
  ): Promise<ChatMessage[]> {
    return this.#messages.waitForCount(test, count, timeoutMs);
  }

  /** Resolves with the first `event` (already received or still to come) that matches. */
  waitForEvent<E extends ServerEventName>(
    event: E,
    test: (item: ServerEvent<E>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ServerEvent<E>> {
    return (this.#events[event] as Recording<ServerEvent<E>>).waitFor(test, timeoutMs);
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** Tracks every client a test opens so that afterEach can close them all. */
export class Clients {
  readonly #all: TestClient[] = [];

  constructor(private readonly url: () => string) {}

  /** Connects with open-mode identity (or any auth object) and waits for the handshake. */
  async connect(auth: Record<string, unknown>, options: { reconnection?: boolean } = {}) {
    const socket: ClientSocket = io(this.url(), {
      auth,
      transports: ['websocket'],
      reconnection: options.reconnection ?? false,
      forceNew: true,
    });
    const client = new TestClient(socket);
    this.#all.push(client);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
    return client;
  }

  /** Connects a user in open mode: `as('alice')` or `as('alice', '앨리스')`. */
  as(userId: string, name?: string): Promise<TestClient> {
    return this.connect(name === undefined ? { userId } : { userId, name });
  }

  /** Tries to connect and resolves with the connect_error message. */
  async refused(auth: Record<string, unknown>): Promise<string> {
    const socket: ClientSocket = io(this.url(), {
      auth,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    try {
      return await new Promise<string>((resolve, reject) => {
        socket.once('connect', () => reject(new Error('connected, expected a refusal')));
        socket.once('connect_error', (error) => resolve(error.message));
      });
    } finally {
      socket.disconnect();
    }
  }

  closeAll(): void {
    for (const client of this.#all.splice(0)) client.close();
  }
}

/** Resolves when the socket has disconnected. */
export function disconnected(client: TestClient, timeoutMs = 5000): Promise<string> {
  if (!client.socket.connected) return Promise.resolve('already disconnected');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('still connected')), timeoutMs);
    client.socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

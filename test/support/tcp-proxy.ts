import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a free port in front of the app, for a client that should lose its
 * connection: `cut()` drops every connection through it, `refuse(true)` turns new ones away
 * (the client stays away, retrying) until `refuse(false)`. `throttle(bytesPerSecond)` makes
 * the client a slow reader; `loseNextCommitReply()` (in front of PostgreSQL) lets one COMMIT
 * through and drops its connection before the server's answer reaches the client.
 */
export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  #refusing = false;
  #server: Server | undefined;
  #target: URL | undefined;
  #bytesPerSecond: number | undefined;
  #commitCut: { resolve: () => void } | undefined;
  url = '';

  /** `postgres`: the client side speaks PostgreSQL's protocol (for loseNextCommitReply). */
  constructor(private readonly options: { postgres?: boolean } = {}) {}

  /** Listens on 127.0.0.1, port 0, forwarding to the http URL of the app. */
  async start(targetUrl: string): Promise<this> {
    this.#target = new URL(targetUrl);
    const server = createServer((client) => this.#accept(client));
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  /** New connections go to another app from now on (a replacement at another port). */
  retarget(targetUrl: string): void {
    this.#target = new URL(targetUrl);
  }

  refuse(refusing: boolean): void {
    this.#refusing = refusing;
  }

  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Data towards the client passes at most this fast (undefined: as fast as it comes). */
  throttle(bytesPerSecond: number | undefined): void {
    this.#bytesPerSecond = bytesPerSecond;
  }

  /**
   * PostgreSQL only: the next COMMIT a client sends reaches the server; once the server has
   * answered it, the connection is dropped and the answer never reaches the client (a commit
   * whose confirmation was lost). Resolves when that has happened.
   */
  loseNextCommitReply(): Promise<void> {
    if (this.options.postgres !== true) throw new Error('not a proxy in front of PostgreSQL');
    return new Promise((resolve) => {
      this.#commitCut = { resolve };
    });
  }

  /**
   * A proxy in front of a service (postgres://, redis://): it, and the service's URL with the
   * proxy's port, to hand to the app.
   */
  static async inFront(serviceUrl: string, defaultPort: number): Promise<[TcpProxy, string]> {
    const target = new URL(serviceUrl);
    const proxy = await new TcpProxy({
      postgres: target.protocol.startsWith('postgres'),
    }).start(`http://${target.hostname}:${target.port || defaultPort}`);
    target.port = new URL(proxy.url).port;
    return [proxy, target.toString()];
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const target = this.#target;
    if (this.#refusing || target === undefined) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: +target.port });
    const link: Link = { commitSent: false, onCommitAnswered: undefined };
    const frames = new PgFrames((query) => {
      if (this.#commitCut === undefined || !/^\s*COMMIT\b/i.test(query)) return;
      const cut = this.#commitCut;
      this.#commitCut = undefined;
      link.commitSent = true;
      link.onCommitAnswered = () => {
        client.destroy();
        upstream.destroy();
        cut.resolve();
      };
    });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        this.#sockets.delete(socket);
        (socket === client ? upstream : client).destroy();
      });
    }
    forward(client, upstream, (chunk) => {
      if (this.options.postgres === true) frames.push(chunk);
      return true;
    });
    forward(upstream, client, (chunk) => {
      // The server's answer to the COMMIT: it committed; the client never hears of it.
      if (link.commitSent) {
        link.onCommitAnswered?.();
        return false;
      }
      this.#pace(upstream, chunk.length);
      return true;
    });
  }

  /** Pauses `from` long enough that `bytes` pass at the throttled rate. */
  #pace(from: Socket, bytes: number): void {
    const rate = this.#bytesPerSecond;
    if (rate === undefined) return;
    from.pause();
    setTimeout(() => from.resume(), (bytes / rate) * 1000);
  }
}

interface Link {
  commitSent: boolean;
  onCommitAnswered: (() => void) | undefined;
}

/** Copies `from` to `to` with back-pressure; `pass` may drop a chunk (false). */
function forward(from: Socket, to: Socket, pass: (chunk: Buffer) => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (!pass(chunk) || to.destroyed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

/**
 * Reads PostgreSQL's frontend messages as they stream by and reports each simple query
 * ('Q'). The first message (startup, or an SSL or GSS request) has no type byte.
 */
class PgFrames {
  #buffer = Buffer.alloc(0);
  #started = false;

  constructor(private readonly onQuery: (query: string) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (!this.#started) {
        if (this.#buffer.length < 8) return;
        const length = this.#buffer.readInt32BE(0);
        if (this.#buffer.length < length) return;
        const code = this.#buffer.readInt32BE(4);
        // SSLRequest and GSSENCRequest come before the real startup message.
        if (code !== 80877103 && code !== 80877104) this.#started = true;
        this.#buffer = this.#buffer.subarray(length);
        continue;
      }
      if (this.#buffer.length < 5) return;
      const length = this.#buffer.readInt32BE(1);
      if (this.#buffer.length < 1 + length) return;
      if (this.#buffer[0] === 0x51 /* 'Q' */) {
        this.onQuery(this.#buffer.subarray(5, length).toString('utf8'));
      }
      this.#buffer = this.#buffer.subarray(1 + length);
    }
  }
}

import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a free port in front of the app, for a client that should lose its
 * connection: `cut()` drops every connection through it, `refuse(true)` turns new ones away
 * (the client stays away, retrying) until `refuse(false)`.
 */
export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  #refusing = false;
  #server: Server | undefined;
  #target: URL | undefined;
  url = '';

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

  /**
   * A proxy in front of a service (postgres://, redis://): it, and the service's URL with the
   * proxy's port, to hand to the app.
   */
  static async inFront(serviceUrl: string, defaultPort: number): Promise<[TcpProxy, string]> {
    const target = new URL(serviceUrl);
    const proxy = await new TcpProxy().start(
      `http://${target.hostname}:${target.port || defaultPort}`,
    );
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
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      this.#sockets.add(from);
      from.pipe(to);
      from.on('error', () => from.destroy());
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
    }
  }
}

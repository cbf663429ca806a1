import { type INestApplicationContext, Logger } from '@nestjs/common';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Admission } from './admission.js';

/** socket.io server options that come from configuration rather than decorators. */
export class ChatIoAdapter extends IoAdapter {
  readonly #logger = new Logger(ChatIoAdapter.name);

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const pending =
      this.config.maxPendingHandshakesPerIp > 0
        ? new PendingSessions(this.app.get(Admission))
        : undefined;
    const server: Server = super.createIOServer(port, {
      ...options,
      // Far above the message limit, so an over-long message gets TOO_LARGE, not a cut link.
      maxHttpBufferSize: this.config.maxHttpBufferSize,
      perMessageDeflate: false,
      // A session that has not connected to a namespace within this time is closed.
      connectTimeout: this.config.handshakeTimeoutMs,
      // Called for new engine.io sessions only (a request without sid), polling or WebSocket.
      allowRequest: (
        request: IncomingMessage,
        callback: (err: string | null, ok: boolean) => void,
      ) => {
        // CORS does not cover WebSocket upgrades: browsers send Origin, so it is checked here.
        if (!this.#originAllowed(request)) return callback(null, false);
        // Past the bound engine.io answers 403 with this message.
        if (pending !== undefined && !pending.admit(request)) {
          return callback('RATE_LIMITED', false);
        }
        callback(null, true);
      },
      cors: {
        origin:
          this.config.corsOrigins.length > 0
            ? [...this.config.corsOrigins]
            : !this.config.production,
      },
    } as ServerOptions);
    if (pending !== undefined) {
      server.engine.on('connection', (conn: EngineConnection) => pending.opened(conn));
      // Namespaces other than '/' (none today) free the slot as well.
      server.on('new_namespace', (namespace) =>
        namespace.on('connection', (socket) => pending.connected(socket.conn)),
      );
    }
    this.#watchPollingTooLarge(server);
    server.on('connection', (socket: Socket) => {
      pending?.connected(socket.conn);
      releaseHandshake(socket);
    });
    return server;
  }

  /**
   * The gateway binds its events itself, with one listener a socket (onAny). Nest's default
   * builds an rxjs pipeline for every socket even with no handler to bind, which only costs
   * memory per connection: skipped when there is nothing to bind.
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (handlers.length === 0) return;
    super.bindMessageHandlers(socket, handlers, transform);
  }

  /**
   * A long-polling POST over MAX_HTTP_BUFFER_SIZE gets engine.io's 413, and its session
   * ends, with nothing said: say it (the WebSocket case is the gateway's).
   */
  #watchPollingTooLarge(server: Server): void {
    const http = (server as unknown as { httpServer?: HttpServer }).httpServer;
    const metrics = this.app.get(MetricsService);
    http?.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'POST' || request.url?.startsWith('/socket.io/') !== true) return;
      response.once('finish', () => {
        if (response.statusCode !== 413) return;
        metrics.packetTooLarge();
        this.#logger.warn(
          `a long-polling packet from ${request.socket.remoteAddress} was over ` +
            `MAX_HTTP_BUFFER_SIZE (${this.config.maxHttpBufferSize} bytes): refused`,
        );
      });
    });
  }

  /**
   * Clients that are not browsers send no Origin and pass. A browser's page may connect from
   * the service's own origin, from CORS_ORIGINS, or from anywhere outside production when
   * CORS_ORIGINS is empty.
   */
  #originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    const allowed = this.config.corsOrigins;
    if (allowed.length === 0 && !this.config.production) return true;
    if (allowed.includes(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }
}

/**
 * Once the socket is connected (after the handshake middleware, the only reader of its
 * headers and token), what the handshake brought is let go: socket.io's own advice for memory
 * per connection. engine.io keeps the upgrade request reachable from the connection's close
 * listener, so the request's headers are emptied as well as dropped. The token goes too: it
 * need not stay in memory for the life of the connection.
 */
function releaseHandshake(socket: Socket): void {
  const conn = socket.conn as unknown as { request: IncomingMessage | null };
  const request = conn.request;
  if (request !== null) {
    request.headers = {};
    request.rawHeaders = [];
  }
  conn.request = null;
  socket.handshake.headers = {};
  socket.handshake.auth = {};
}

/** The part of an engine.io session (engine.io's Socket) used here. */
interface EngineConnection {
  readonly request: IncomingMessage;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/**
 * Engine.io sessions that have not completed a socket.io CONNECT, counted per client address
 * (Admission.admitPending) from their handshake request until they connect to a namespace or
 * close, whichever comes first. Nothing is done per message.
 */
class PendingSessions {
  /** Handshakes let through whose engine.io session does not exist yet, with their address. */
  readonly #unbound = new Map<IncomingMessage, string>();
  #sweep: NodeJS.Immediate | undefined;
  /** Gives a counted session's slot back (once). */
  readonly #release = new WeakMap<object, () => void>();

  constructor(private readonly admission: Admission) {}

  /** At allowRequest: takes a slot for the request's address; false when none is left. */
  admit(request: IncomingMessage): boolean {
    const address = this.admission.addressOf(request.socket.remoteAddress ?? '', request.headers);
    if (this.admission.admitPending(address) !== undefined) return false;
    this.#unbound.set(request, address);
    // engine.io creates the session in this same turn of the event loop (after one await);
    // a handshake that fails after allowRequest (a bad WebSocket upgrade, an unsupported
    // protocol) never does: its slot is given back once the turn is over.
    if (this.#sweep === undefined) {
      this.#sweep = setImmediate(() => {
        this.#sweep = undefined;
        for (const address of this.#unbound.values()) this.admission.releasePending(address);
        this.#unbound.clear();
      });
    }
    return true;
  }

  /** engine.io's new session: it keeps its handshake's slot until it connects or closes. */
  opened(conn: EngineConnection): void {
    const address = this.#unbound.get(conn.request);
    if (address === undefined) return;
    this.#unbound.delete(conn.request);
    const release = (): void => {
      this.#release.delete(conn);
      conn.off('close', release);
      this.admission.releasePending(address);
    };
    this.#release.set(conn, release);
    conn.once('close', release);
  }

  /** A socket.io connection to a namespace completed on this engine.io session. */
  connected(conn: object): void {
    this.#release.get(conn)?.();
  }
}

import type { INestApplicationContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';

/** socket.io server options that come from configuration rather than decorators. */
export class ChatIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const server: Server = super.createIOServer(port, {
      ...options,
      // Far above the message limit, so an over-long message gets TOO_LARGE, not a cut link.
      maxHttpBufferSize: this.config.maxHttpBufferSize,
      perMessageDeflate: false,
      connectTimeout: this.config.handshakeTimeoutMs,
      // CORS does not cover WebSocket upgrades: browsers send Origin, so it is checked here.
      allowRequest: (
        request: IncomingMessage,
        callback: (err: string | null, ok: boolean) => void,
      ) => callback(null, this.#originAllowed(request)),
      cors: {
        origin:
          this.config.corsOrigins.length > 0
            ? [...this.config.corsOrigins]
            : !this.config.production,
      },
    } as ServerOptions);
    // Drop the HTTP upgrade request once the socket is connected: socket.io's own advice for
    // memory per connection. After the handshake middleware, which reads its headers.
    server.on('connection', (socket: { conn: { request: unknown } }) => {
      socket.conn.request = null;
    });
    return server;
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

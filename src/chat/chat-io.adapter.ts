import type { INestApplicationContext } from '@nestjs/common';
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
      cors: {
        origin:
          this.config.corsOrigins.length > 0
            ? [...this.config.corsOrigins]
            : !this.config.production,
      },
    } as ServerOptions);
    // Drop the HTTP upgrade request once connected: socket.io's own advice for memory per
    // connection. Identity was already taken from the handshake by then.
    server.engine.on('connection', (raw: { request: unknown }) => {
      raw.request = null;
    });
    return server;
  }
}

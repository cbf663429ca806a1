import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ReadinessService } from './readiness.service.js';

/**
 * The first steps of a graceful shutdown (app.close(), on SIGTERM or SIGINT). Nest runs
 * onModuleDestroy before any beforeApplicationShutdown, so these happen while everything
 * still works:
 *
 * 1. /ready turns 503 and the port stops accepting connections (open ones stay);
 * 2. every client gets `server:shutdown`, and new socket.io handshakes are refused.
 *
 * Then DispatcherService refuses new jobs and drains the mailboxes (their acks still reach
 * the clients), Nest closes the socket server (clients see the transport close and
 * reconnect, elsewhere or here after the restart), and the store flushes and closes.
 */
@Injectable()
export class GracefulShutdown implements OnModuleDestroy {
  readonly #logger = new Logger(GracefulShutdown.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly delivery: DeliveryService,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleDestroy(): void {
    this.readiness.markDraining();
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    // Nest closes the server again later; the callback swallows "not running" then.
    if (server?.listening) server.close(() => undefined);
    const told = this.delivery.beginShutdown({
      message: 'the server is shutting down: reconnect to continue',
    });
    this.#logger.log(`no longer accepting connections; ${told} clients told to reconnect`);
  }
}

import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { AppConfig } from '../config/app-config.js';
import { outboundBytes, whenFlushed, type EngineConnection } from './engine-connection.js';

/** How often every socket's outbound backlog is checked. */
export const SLOW_CONSUMER_CHECK_MS = 1000;

/** Replies smaller than this are not tracked: only recovery pages and history are large. */
const REQUESTED_TRACK_MIN_BYTES = 16_384;

/** Data a client asked for and has not yet taken from the network. */
interface Requested {
  bytes: number;
  /** Settles once everything emitted up to the last request has left for the network. */
  flushed: Promise<unknown>;
}

/**
 * Bounds what the server holds for a socket that does not read: a socket whose backlog
 * passes MAX_OUTBOUND_BUFFER_BYTES is cut off, so one stalled client costs bounded memory
 * and broadcasts to its rooms go on at full speed (a broadcast never waits for a socket).
 *
 * What the client asked for (a recovery page, history, its stored memos) does not count
 * against it: it is bounded per request, and the connection's next request waits until it
 * has been taken, so a slow reader recovers at its own pace instead of being cut off.
 */
@Injectable()
export class SlowConsumers implements OnModuleDestroy {
  readonly #logger = new Logger(SlowConsumers.name);
  readonly #requested = new WeakMap<EngineConnection, Requested>();
  #timer: NodeJS.Timeout | undefined;
  #cutOff = 0;

  constructor(private readonly config: AppConfig) {}

  /** Sockets cut off since start. */
  get cutOff(): number {
    return this.#cutOff;
  }

  watch(sockets: () => Iterable<Socket>): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#sweep(sockets()), SLOW_CONSUMER_CHECK_MS);
    this.#timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.#timer);
  }

  /**
   * Data the client asked for, `length` JSON characters of it, was just emitted to `socket`.
   * Counted as up to 3 bytes a character (UTF-8 of Korean text), so it never falls short.
   */
  noteRequested(socket: Socket, length: number): void {
    const bytes = length * 3;
    if (bytes < REQUESTED_TRACK_MIN_BYTES) return;
    const conn = socket.conn as unknown as EngineConnection;
    const entry = this.#requested.get(conn) ?? { bytes: 0, flushed: Promise.resolve() };
    entry.bytes += bytes;
    entry.flushed = whenFlushed(conn).then(() => {
      entry.bytes -= bytes;
      if (entry.bytes <= 0 && this.#requested.get(conn) === entry) this.#requested.delete(conn);
    });
    this.#requested.set(conn, entry);
  }

  /** Settles once the data `socket` asked for has left; undefined when none is waiting. */
  requestedPending(socket: Socket): Promise<unknown> | undefined {
    return this.#requested.get(socket.conn as unknown as EngineConnection)?.flushed;
  }

  #sweep(sockets: Iterable<Socket>): void {
    const max = this.config.maxOutboundBufferBytes;
    for (const socket of sockets) {
      const conn = socket.conn as unknown as EngineConnection;
      const backlog = outboundBytes(conn);
      if (backlog > max + (this.#requested.get(conn)?.bytes ?? 0)) this.#cut(socket, backlog, max);
    }
  }

  #cut(socket: Socket, backlog: number, max: number): void {
    this.#cutOff++;
    const userId = (socket.data as { user?: { id: string } }).user?.id ?? '?';
    this.#logger.warn(
      `socket ${socket.id} of user ${userId} cut off: slow consumer ` +
        `(${backlog} bytes waiting, MAX_OUTBOUND_BUFFER_BYTES ${max})`,
    );
    const conn = socket.conn as unknown as EngineConnection;
    // Nothing queued would reach it before the backlog does: drop it all, now.
    conn.writeBuffer.length = 0;
    const transport = conn.transport;
    const ws = transport?.name === 'websocket' ? transport.socket : undefined;
    if (ws !== undefined) ws.terminate();
    else conn.close(true);
  }
}

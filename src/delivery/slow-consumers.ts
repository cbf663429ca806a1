import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { AppConfig } from '../config/app-config.js';

/** How often every socket's outbound backlog is checked. */
export const SLOW_CONSUMER_CHECK_MS = 1000;

/** The parts of engine.io's connection that hold what is not yet written to the network. */
interface EngineConnection {
  writeBuffer: Array<{ data?: unknown }>;
  transport?: { name: string; socket?: { bufferedAmount: number; terminate(): void } };
  close(discard?: boolean): void;
}

/**
 * Bounds what the server holds for a socket that does not read: a socket whose backlog
 * passes MAX_OUTBOUND_BUFFER_BYTES is cut off, so one stalled client costs bounded memory
 * and broadcasts to its rooms go on at full speed (a broadcast never waits for a socket).
 */
@Injectable()
export class SlowConsumers implements OnModuleDestroy {
  readonly #logger = new Logger(SlowConsumers.name);
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

  #sweep(sockets: Iterable<Socket>): void {
    const max = this.config.maxOutboundBufferBytes;
    for (const socket of sockets) {
      const backlog = outboundBytes(socket.conn as unknown as EngineConnection);
      if (backlog > max) this.#cut(socket, backlog, max);
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
    const ws = conn.transport?.name === 'websocket' ? conn.transport.socket : undefined;
    if (ws !== undefined) ws.terminate();
    else conn.close(true);
  }
}

/** Bytes queued for a socket: engine.io's packets not yet handed over, plus ws's buffer. */
function outboundBytes(conn: EngineConnection): number {
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
  }
  return bytes;
}

/**
 * The parts of engine.io's connection (`socket.conn`) that tell what is not yet written to the
 * network. engine.io does not type them; they are stable across its 6.x releases.
 */
export interface EngineConnection {
  readyState: string;
  writeBuffer: Array<{ data?: unknown }>;
  transport?: EngineTransport;
  close(discard?: boolean): void;
  on(event: 'upgrade' | 'close', listener: () => void): unknown;
  off(event: 'upgrade' | 'close', listener: () => void): unknown;
}

interface EngineTransport {
  name: string;
  writable: boolean;
  socket?: { bufferedAmount: number; terminate(): void };
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/** Bytes queued for a connection: engine.io's packets not yet handed over, plus ws's buffer. */
export function outboundBytes(conn: EngineConnection): number {
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
  }
  return bytes;
}

/**
 * Whether everything emitted so far has been handed to the network (the kernel's socket
 * buffer, or a polling response): nothing waits in engine.io's buffer and, on a WebSocket,
 * the last send has completed.
 */
function flushed(conn: EngineConnection): boolean {
  const transport = conn.transport;
  return conn.writeBuffer.length === 0 && (transport?.name !== 'websocket' || transport.writable);
}

/**
 * Resolves true once what was emitted to the connection so far has left for the network,
 * false if the connection closes first. A reader that does not read keeps it pending: the
 * caller's next batch waits, so the backlog stays one batch.
 */
export function whenFlushed(conn: EngineConnection): Promise<boolean> {
  if (conn.readyState !== 'open') return Promise.resolve(false);
  if (flushed(conn)) return Promise.resolve(true);
  return new Promise((resolve) => {
    let transport = conn.transport;
    const finish = (result: boolean): void => {
      transport?.off('drain', onDrain);
      conn.off('upgrade', onUpgrade);
      conn.off('close', onClose);
      resolve(result);
    };
    // A WebSocket emits 'drain' just before it becomes writable and flushes what queued up
    // meanwhile: look once that is done.
    const onDrain = (): void => {
      setImmediate(() => {
        if (conn.readyState !== 'open') finish(false);
        else if (flushed(conn)) finish(true);
      });
    };
    const onUpgrade = (): void => {
      transport?.off('drain', onDrain);
      transport = conn.transport;
      transport?.on('drain', onDrain);
      onDrain();
    };
    const onClose = (): void => finish(false);
    transport?.on('drain', onDrain);
    conn.on('upgrade', onUpgrade);
    conn.on('close', onClose);
  });
}

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import { AppConfig } from '../config/app-config.js';
import { SLOW_CONSUMER_CHECK_MS, SlowConsumers } from './slow-consumers.js';

/** Just enough of an engine.io connection on a WebSocket: a buffer, a transport, events. */
class FakeConnection extends EventEmitter {
  readyState = 'open';
  writeBuffer: Array<{ data: string }> = [];
  readonly transport = Object.assign(new EventEmitter(), {
    name: 'websocket',
    writable: false,
    socket: { bufferedAmount: 0, terminate: jest.fn() },
  });
  close = jest.fn();

  /** `bytes` characters waiting to be written. */
  backlog(bytes: number): void {
    this.writeBuffer = [{ data: 'x'.repeat(bytes) }];
  }

  /** Everything left for the network. */
  drain(): void {
    this.writeBuffer = [];
    this.transport.writable = true;
    this.transport.emit('drain');
  }
}

function fakeSocket(conn: FakeConnection): Socket {
  return { id: 's1', conn, data: { user: { id: 'bob' } } } as unknown as Socket;
}

describe(SlowConsumers.name, () => {
  let sut: SlowConsumers;
  let conn: FakeConnection;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    sut = new SlowConsumers(
      AppConfig.fromEnv({ NODE_ENV: 'test', MAX_OUTBOUND_BUFFER_BYTES: '65536' }),
    );
    conn = new FakeConnection();
    sut.watch(() => [fakeSocket(conn)]);
  });

  afterEach(() => {
    sut.onModuleDestroy();
    jest.useRealTimers();
  });

  it('should cut off a socket whose unread backlog passes MAX_OUTBOUND_BUFFER_BYTES', () => {
    conn.backlog(100_000);
    jest.advanceTimersByTime(SLOW_CONSUMER_CHECK_MS);
    expect(conn.transport.socket.terminate).toHaveBeenCalled();
    expect(sut.cutOff).toBe(1);
  });

  it('should not count what the client asked for against it, until it has been taken', async () => {
    conn.backlog(100_000);
    sut.noteRequested(fakeSocket(conn), 60_000);
    jest.advanceTimersByTime(SLOW_CONSUMER_CHECK_MS);
    expect(conn.transport.socket.terminate).not.toHaveBeenCalled();
    const next = sut.requestedPending(fakeSocket(conn));
    expect(next).toBeDefined();

    conn.drain();
    await next; // the next request of this connection may go now
    expect(sut.requestedPending(fakeSocket(conn))).toBeUndefined();
    // Taken: a backlog as large now is one the client failed to read.
    conn.backlog(100_000);
    jest.advanceTimersByTime(SLOW_CONSUMER_CHECK_MS);
    expect(conn.transport.socket.terminate).toHaveBeenCalled();
  });
});

/**
 * Graceful shutdown of the built service as a real process: SIGTERM in the middle of real
 * traffic. Clients are told (`server:shutdown`) and then disconnected so they reconnect;
 * work already accepted finishes; the process exits 0 within SHUTDOWN_TIMEOUT_MS; after a
 * restart on the same data every acknowledged message is there, in gapless seq order.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage, ShutdownNotice } from '../../src/contract/events.js';
import { DeliveryService } from '../../src/delivery/delivery.service.js';
import { Clients, disconnected, type TestClient } from '../support/chat-app.js';
import { useApp } from '../support/e2e.js';
import { ServerProcess } from '../support/server-process.js';

const SHUTDOWN_TIMEOUT_MS = 5000;
/** Sends each client keeps in flight: the server always has work queued when it is told to stop. */
const WINDOW = 16;

interface SenderRun {
  notice: Promise<ShutdownNotice>;
  disconnect: Promise<string>;
  /** Resolves once the client stopped sending and every send it made has settled. */
  done: Promise<void>;
  inFlight(): number;
}

/** Keeps WINDOW room messages in flight until the server says it is going away. */
function keepSending(client: TestClient, roomId: string, onAck: (m: ChatMessage) => void) {
  // Far longer than the test may take: these settle when the server acts, or the test fails.
  const notice = client.waitForEvent('server:shutdown', () => true, 60_000);
  const disconnect = disconnected(client, 60_000);
  let stopped = false;
  const stop = () => (stopped = true);
  void notice.then(stop, stop);
  void disconnect.then(stop, stop);
  const pending = new Set<Promise<void>>();
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const send: Promise<void> = client
        .request('room:message', { roomId, content: `${client.socket.id} #${n}` }, 10_000)
        .then(
          (reply) => {
            if (reply.ok) onAck(reply.message);
          },
          () => undefined, // cut off with the connection: never acknowledged
        )
        .finally(() => pending.delete(send));
      pending.add(send);
      if (pending.size >= WINDOW) await Promise.race(pending);
    }
    await Promise.allSettled(pending);
  })();
  const run: SenderRun = { notice, disconnect, done, inFlight: () => pending.size };
  return run;
}

describe('graceful shutdown', () => {
  let dataDir = '';
  let server: ServerProcess | undefined;
  let url = '';
  const clients = new Clients(() => url);

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
    server = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should tell clients, finish accepted work, exit 0 and lose no acknowledged message', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-shutdown-'));
    const env = {
      STORE: 'sqlite',
      DATA_DIR: dataDir,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // A flood by design: no rate limit in the way.
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
    };
    server = new ServerProcess(env);
    url = await server.start();
    const senders = await Promise.all(['ann', 'ben', 'cat'].map((id) => clients.as(id)));
    for (const sender of senders) await sender.ok('room:join', { roomId: 'general' });

    const acked: ChatMessage[] = [];
    let signalledAt = 0;
    let inFlightAtSignal = 0;
    const runs: SenderRun[] = [];
    const onAck = (message: ChatMessage): void => {
      acked.push(message);
      if (acked.length === 300) {
        // Mid-traffic: every sender has sends queued or on the wire right now.
        inFlightAtSignal = runs.reduce((sum, run) => sum + run.inFlight(), 0);
        signalledAt = performance.now();
        server!.signal('SIGTERM');
      }
    };
    runs.push(...senders.map((sender) => keepSending(sender, 'general', onAck)));

    const notices = await Promise.all(runs.map((run) => run.notice));
    expect(notices.every((n) => typeof n.message === 'string' && n.message !== '')).toBe(true);
    // Once told, the port takes no new connection.
    expect(await clients.refused({ userId: 'late' })).toEqual(expect.any(String));
    // The connection ends under the client (not a socket.io disconnect), so socket.io
    // clients reconnect by themselves: elsewhere, or here after the restart.
    expect(await Promise.all(runs.map((run) => run.disconnect))).toEqual(
      runs.map(() => 'transport close'),
    );
    await Promise.all(runs.map((run) => run.done));
    expect(await server.exited()).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(inFlightAtSignal).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThanOrEqual(300);

    // Logs are JSON lines; the shutdown steps are in them, in order.
    const lines = server.log
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { level: string; msg: string; context?: string });
    const steps = [
      'SIGTERM: shutting down',
      'clients told to reconnect',
      'mailboxes drained, worker loops stopped',
    ].map((text) => lines.findIndex((line) => line.msg.includes(text)));
    expect(steps.every((index) => index >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(lines.filter((line) => line.level === 'error')).toEqual([]);

    // The same data, a new process: every acknowledged message, gapless.
    server = new ServerProcess(env);
    url = await server.start();
    const reader = await clients.as('reader');
    const { messages } = await reader.ok('room:join', { roomId: 'general', since: 0 });
    const stored = new Map(messages.map((m) => [m.id, m]));
    const missing = acked.filter((m) => stored.get(m.id) === undefined);
    expect(missing).toEqual([]);
    for (const message of acked) expect(stored.get(message.id)).toEqual(message);
    const seqs = messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });
});

describe('the start of a shutdown', () => {
  const h = useApp();

  it('should tell every client and refuse new handshakes with SHUTTING_DOWN', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    const told = [alice, bob].map((client) => client.waitForEvent('server:shutdown'));

    const count = h.app.app.get(DeliveryService).beginShutdown({ message: 'going away' });

    expect(count).toBe(2);
    expect(await Promise.all(told)).toEqual([{ message: 'going away' }, { message: 'going away' }]);
    expect(await h.clients.refused({ userId: 'carol' })).toBe('SHUTTING_DOWN');
    // Connected clients keep working until the drain is over.
    const { users } = await alice.ok('user:list');
    expect(users.map((user) => user.id).sort()).toEqual(['alice', 'bob']);
  });
});

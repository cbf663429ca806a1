/**
 * Nothing lost: the service runs as a real process on a durable store, is restarted
 * (gracefully, or killed with SIGKILL mid-burst) and must come back with every
 * acknowledged message, its rooms, memos and idempotency records.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from '../support/services.js';
import { dropPostgresSchema } from '../support/store-kits.js';

interface Backend {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-durable-'));
  return {
    env: { STORE: 'sqlite', DATA_DIR: dataDir },
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

function postgresBackend(): Backend {
  const schema = uniqueSchema('chat_durable');
  return {
    env: { STORE: 'postgres', DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema },
    cleanup: () => dropPostgresSchema(schema),
  };
}

const postgresUp = await serviceAvailable('postgres');
const backends: Array<[string, () => Backend]> = [
  ['sqlite', sqliteBackend],
  ...(postgresUp ? [['postgres', postgresBackend] as [string, () => Backend]] : []),
];

describe.each(backends)('durability on %s', (_name, makeBackend) => {
  let backend: Backend;
  let server: ServerProcess | undefined;
  let url = '';
  const clients = new Clients(() => url);

  async function boot(): Promise<void> {
    server = new ServerProcess(backend.env);
    url = await server.start();
  }

  beforeEach(async () => {
    backend = makeBackend();
    // The burst below is a flood by design: no rate limit in the way.
    backend.env.RATE_LIMIT_BURST = '100000';
    await boot();
  });

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
    await backend.cleanup();
  });

  it('should keep history, rooms, memos and idempotency across a restart', async () => {
    const alice = await clients.as('alice', '앨리스');
    await alice.ok('room:create', { roomId: 'vault', private: true });
    await alice.ok('room:invite', { roomId: 'vault', userId: 'bob' });
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 3; i++) {
      const { message } = await alice.ok('room:message', {
        roomId: 'vault',
        content: `secret ${i}`,
        clientMsgId: `m-${i}`,
      });
      sent.push(message);
    }
    const memo = await alice.ok('memo:send', {
      to: 'bob',
      content: 'read me later',
      clientMsgId: 'memo-1',
    });
    expect(memo.delivered).toBe(false);
    alice.close();
    expect(await server!.stop('SIGTERM')).toBe(0);

    await boot();
    const again = await clients.as('alice', '앨리스');
    const rejoined = await again.ok('room:join', { roomId: 'vault', since: 0 });
    expect(rejoined.complete).toBe(true);
    const chats = rejoined.messages.filter((m) => m.type === 'room_chat');
    expect(chats).toEqual(sent);
    // The same clientMsgId after a restart answers the first message; nothing new is stored.
    const retry = await again.ok('room:message', {
      roomId: 'vault',
      content: 'changed text',
      clientMsgId: 'm-1',
    });
    expect(retry.message).toEqual(sent[1]);
    const retriedMemo = await again.ok('memo:send', {
      to: 'bob',
      content: 'x',
      clientMsgId: 'memo-1',
    });
    expect(retriedMemo).toMatchObject({ message: memo.message, delivered: false });
    // Seq goes on from where it was: 1 create-join, 2-4 chats, 5 leave (offline), 6 rejoin.
    const next = await again.ok('room:message', { roomId: 'vault', content: 'after restart' });
    expect(next.message.seq).toBe(7);

    // The invitation survived, and the memo waits for bob.
    const bob = await clients.as('bob');
    const delivered = await bob.waitFor((m) => m.type === 'instant_message');
    expect(delivered.id).toBe(memo.message.id);
    await expect(bob.ok('room:join', { roomId: 'vault' })).resolves.toBeDefined();
    // A stranger still may not enter the private room.
    const carol = await clients.as('carol');
    const refused = await carol.request('room:join', { roomId: 'vault' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('should have every acknowledged message after SIGKILL during a burst', async () => {
    const alice = await clients.as('alice');
    await alice.ok('room:create', { roomId: 'burst' });
    const acked: ChatMessage[] = [];
    const total = 400;
    let killed: Promise<unknown> | undefined;
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const reply = alice.request('room:message', { roomId: 'burst', content: `n${i}` }, 10_000);
      sends.push(
        reply.then(
          (r) => {
            if (r.ok) acked.push(r.message);
            // Pull the plug once a good part of the burst is acknowledged.
            if (acked.length === 100 && killed === undefined) killed = server!.stop('SIGKILL');
          },
          () => undefined, // in flight when the process died: never acknowledged
        ),
      );
    }
    await Promise.allSettled(sends);
    await killed;
    expect(acked.length).toBeGreaterThanOrEqual(100);

    await boot();
    const back = await clients.as('alice');
    const { messages } = await back.ok('room:join', { roomId: 'burst', since: 0 });
    const stored = new Map(messages.map((m) => [m.id, m]));
    for (const message of acked) expect(stored.get(message.id)).toEqual(message);
    const seqs = messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // gapless after the crash too
  });
});

describe('a bad data directory', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chat-bad-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should stop at once with a clear message when the database file is corrupt', async () => {
    writeFileSync(join(dir, 'chat.sqlite'), 'this is not a database '.repeat(500));
    const server = new ServerProcess({ STORE: 'sqlite', DATA_DIR: dir });
    expect(await server.runToExit()).toBe(1);
    expect(server.log).toContain(`cannot open the SQLite store at ${join(dir, 'chat.sqlite')}`);
    expect(server.log).toContain('move it aside');
  });

  it('should stop at once with a clear message when DATA_DIR is a file', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const server = new ServerProcess({ STORE: 'sqlite', DATA_DIR: file });
    expect(await server.runToExit()).toBe(1);
    expect(server.log).toMatch(/DATA_DIR .*not-a-dir/);
  });

  it('should create a missing DATA_DIR on first start', async () => {
    const server = new ServerProcess({ STORE: 'sqlite', DATA_DIR: join(dir, 'a', 'b') });
    await server.start();
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});

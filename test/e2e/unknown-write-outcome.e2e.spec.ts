/**
 * A write whose outcome is unknown: the store committed it, but the confirmation never came
 * back. On PostgreSQL a TCP proxy lets a COMMIT through and drops the connection before the
 * server's answer reaches the service; on SQLite a fault hook of the writer (test builds only)
 * commits and then reports a failure. Either way the room must find out what is stored,
 * deliver it, and go on numbering from there, at once: never a frozen room.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage } from '../../src/contract/events.js';
import { FAULT_COMMIT_THEN_FAIL } from '../../src/store/sqlite/sqlite.store.js';
import { Clients, type TestClient } from '../support/chat-app.js';
import { joinOf, withId } from '../support/e2e.js';
import { ServerProcess } from '../support/server-process.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from '../support/services.js';
import { dropPostgresSchema } from '../support/store-kits.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const postgresUp = await serviceAvailable('postgres');

describe('a write whose outcome is unknown', () => {
  let server: ServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  const clients = new Clients(() => server?.url ?? '');

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
    await proxy?.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** Alice and bob in a room of their own; bob keeps what it receives. */
  async function twoMembers(): Promise<[TestClient, TestClient]> {
    const alice = await clients.as('alice');
    const bob = await clients.as('bob');
    await alice.ok('room:create', { roomId: 'r' });
    await bob.ok('room:join', { roomId: 'r' });
    await alice.waitFor(joinOf('r', 'bob'));
    return [alice, bob];
  }

  /**
   * After the unconfirmed message: it reached the members (ack or not), a retry with its
   * clientMsgId returns it, the room takes messages within a second, and history has each seq
   * once, with no gap.
   */
  async function expectRoomWholeAfter(
    alice: TestClient,
    bob: TestClient,
    reply: Awaited<ReturnType<TestClient['request']>>,
  ): Promise<void> {
    const live = await bob.waitFor((m) => m.content.includes('unconfirmed'), 5000);
    // The room found it stored: its sender hears so, as for any message.
    expect(reply.ok).toBe(true);
    expect((reply as unknown as { message: ChatMessage }).message.id).toBe(live.id);
    const retry = await alice.ok('room:message', {
      roomId: 'r',
      content: 'a retry carries anything',
      clientMsgId: 'unsure-1',
    });
    expect(retry.message.id).toBe(live.id);
    const started = Date.now();
    const { message: next } = await alice.ok('room:message', { roomId: 'r', content: 'next' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(next.seq).toBe((live.seq as number) + 1);
    await bob.waitFor(withId(next.id));
    const { messages } = await alice.ok('room:history', { roomId: 'r' });
    const seqs = messages.map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(messages.filter((m) => m.id === live.id)).toHaveLength(1);
    // Every member got every event once, in seq order.
    const got = bob.received.filter((m) => m.roomId === 'r' && m.seq !== undefined);
    const bobSeqs = got.map((m) => m.seq as number);
    expect(bobSeqs).toEqual([...new Set(bobSeqs)].sort((a, b) => a - b));
  }

  (postgresUp ? it : it.skip)(
    'should deliver a message whose COMMIT PostgreSQL confirmed to a connection that then dropped, and go on',
    async () => {
      const schema = uniqueSchema('chat_unknown');
      cleanups.push(() => dropPostgresSchema(schema));
      let viaProxy: string;
      [proxy, viaProxy] = await TcpProxy.inFront(POSTGRES_URL, 5432);
      server = new ServerProcess({
        STORE: 'postgres',
        DATABASE_URL: viaProxy,
        DATABASE_SCHEMA: schema,
      });
      await server.start();
      const [alice, bob] = await twoMembers();
      const cut = proxy.loseNextCommitReply();
      const reply = await alice.request('room:message', {
        roomId: 'r',
        content: 'unconfirmed',
        clientMsgId: 'unsure-1',
      });
      await cut;
      await expectRoomWholeAfter(alice, bob, reply);
      expect(server.log).toMatch(/re-read its log after a failed write/);
    },
    30_000,
  );

  it('should deliver a message SQLite committed but reported failed, and go on', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-unknown-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    server = new ServerProcess({ STORE: 'sqlite', DATA_DIR: dataDir, FAULT_INJECTION: 'on' });
    await server.start();
    const [alice, bob] = await twoMembers();
    // Messages in flight around it go through as well.
    const around = [1, 2, 3].map((i) =>
      alice.request('room:message', { roomId: 'r', content: `around ${i}` }),
    );
    const reply = await alice.request('room:message', {
      roomId: 'r',
      content: `unconfirmed ${FAULT_COMMIT_THEN_FAIL}`,
      clientMsgId: 'unsure-1',
    });
    for (const settled of await Promise.all(around)) expect(settled.ok).toBe(true);
    await expectRoomWholeAfter(alice, bob, reply);
    expect(server.log).toMatch(/re-read its log after a failed write/);
  }, 30_000);

  it('should deliver an edit SQLite committed but reported failed, once, with the message’s state intact', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-unknown-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    server = new ServerProcess({ STORE: 'sqlite', DATA_DIR: dataDir, FAULT_INJECTION: 'on' });
    await server.start();
    const [alice, bob] = await twoMembers();
    const { message } = await alice.ok('room:message', { roomId: 'r', content: 'draft' });
    const seq = message.seq as number;
    await bob.ok('room:react', { roomId: 'r', seq, emoji: '👍' });
    const edit = {
      roomId: 'r',
      seq,
      content: `unconfirmed ${FAULT_COMMIT_THEN_FAIL}`,
      clientMsgId: 'unsure-edit',
    };

    const reply = await alice.request('room:edit', edit);

    // Found stored: answered, delivered once, and a retry returns the same event.
    const live = await bob.waitFor((m) => m.type === 'room_edit');
    expect(reply).toEqual({ ok: true, message: live });
    expect((await alice.ok('room:edit', { ...edit, content: 'other' })).message).toEqual(live);
    const { message: next } = await alice.ok('room:message', { roomId: 'r', content: 'next' });
    await bob.waitFor(withId(next.id));
    expect(bob.received.filter((m) => m.type === 'room_edit')).toHaveLength(1);
    // The message's state is what the store has: edited, bob's reaction kept.
    expect(await bob.ok('room:react', { roomId: 'r', seq, emoji: '👍' })).toEqual({ ok: true });
    const { messages } = await bob.ok('room:history', { roomId: 'r' });
    expect(messages.find((m) => m.seq === seq)).toMatchObject({
      content: edit.content,
      edited: true,
      reactions: { '👍': 1 },
      myReactions: ['👍'],
    });
    expect(server.log).toMatch(/re-read its log after a failed write/);
  }, 30_000);

  it('should refuse FAULT_INJECTION outside tests', async () => {
    const refused = new ServerProcess({ NODE_ENV: 'production', FAULT_INJECTION: 'on' });
    expect(await refused.runToExit()).toBe(1);
    expect(refused.log).toMatch(/FAULT_INJECTION=on is for tests only/);
  });
});

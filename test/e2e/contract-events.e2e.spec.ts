/**
 * Every client event of the wire contract (docs/PROTOCOL.md, "Client events", "Replies",
 * "Messages", "Text rules"), success and error cases, against the real app on port 0.
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import type { ChatMessage, ErrorCode, Reply } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import {
  connectOf,
  disconnectOf,
  expectAbsent,
  joinOf,
  leaveOf,
  nextMarker,
  roomMarker,
  SYSTEM,
  useApp,
  withId,
} from '../support/e2e.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HIGH_RATE = { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SECOND: '100000' };

// ---- helpers ---------------------------------------------------------------------------

function raw(client: TestClient): Socket {
  return client.socket as unknown as Socket;
}

/** Emits any event name with any arguments and resolves with the ack. */
function rawRequest(client: TestClient, event: string, ...args: unknown[]): Promise<unknown> {
  return raw(client)
    .timeout(3000)
    .emitWithAck(event, ...args);
}

function expectError(reply: unknown, code: ErrorCode): void {
  expect(reply).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
}

function data<T extends object>(reply: Reply<T>): T {
  if (!reply.ok)
    throw new Error(`unexpected error reply: ${reply.error.code} ${reply.error.message}`);
  return reply;
}

/** Like roomMarker, with a memo: the user's own channel. */
async function memoMarker(
  sender: TestClient,
  to: string,
  receivers: TestClient[],
): Promise<ChatMessage> {
  const { message } = await sender.ok('memo:send', { to, content: `memo marker ${nextMarker()}` });
  await Promise.all(receivers.map((r) => r.waitFor(withId(message.id))));
  return message;
}

function seqs(messages: ChatMessage[]): number[] {
  return messages.map((m) => m.seq ?? Number.NaN);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Sends `count` room messages back to back (acks awaited together). */
async function fill(client: TestClient, roomId: string, count: number): Promise<ChatMessage[]> {
  const replies = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.ok('room:message', { roomId, content: `m${i}` }),
    ),
  );
  return replies.map((r) => r.message);
}

// ---- room:list -------------------------------------------------------------------------

describe('room:list', () => {
  const h = useApp();

  it('should list the default rooms as public rooms with their member counts', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'dev' });

    const { rooms } = await alice.ok('room:list', {});

    expect(rooms).toEqual(
      expect.arrayContaining([
        { id: 'general', name: 'general', members: 2, private: false },
        { id: 'game', name: 'game', members: 0, private: false },
        { id: 'dev', name: 'dev', members: 1, private: false },
      ]),
    );
    expect(rooms).toHaveLength(3);
  });

  it('should accept no payload as well as an empty object', async () => {
    const alice = await h.clients.as('alice');

    const none = await alice.request('room:list');
    const empty = await alice.request('room:list', {});

    expect(none.ok).toBe(true);
    expect(empty).toEqual(none);
  });

  it('should show a private room only to its members', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    await alice.ok('room:create', { roomId: 'secret', name: 'Secret', private: true });
    await alice.ok('room:invite', { roomId: 'secret', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'secret' });

    const forAlice = await alice.ok('room:list');
    const forBob = await bob.ok('room:list');
    const forCarol = await carol.ok('room:list');

    const secret = { id: 'secret', name: 'Secret', members: 2, private: true };
    expect(forAlice.rooms).toContainEqual(secret);
    expect(forBob.rooms).toContainEqual(secret);
    expect(forCarol.rooms.map((r) => r.id)).not.toContain('secret');
    expect(forCarol.rooms).toHaveLength(3);
  });

  describe('with DEFAULT_ROOMS configured', () => {
    const custom = useApp({ DEFAULT_ROOMS: 'lobby,town' });

    it('should start with exactly the configured rooms', async () => {
      const alice = await custom.clients.as('alice');

      const { rooms } = await alice.ok('room:list');

      expect(rooms.map((r) => r.id).sort()).toEqual(['lobby', 'town']);
      expectError(await alice.request('room:join', { roomId: 'general' }), 'NOT_FOUND');
    });
  });
});

// ---- room:create -----------------------------------------------------------------------

describe('room:create', () => {
  const h = useApp();

  it('should create a public room named after its id, joined by its creator at seq 1', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    const reply = await alice.request('room:create', { roomId: 'team-1' });

    expect(reply).toEqual({ ok: true, room: { id: 'team-1', name: 'team-1', private: false } });
    const join = await alice.waitFor(joinOf('team-1', 'alice'));
    expect(join).toMatchObject({
      type: 'room_join',
      roomId: 'team-1',
      seq: 1,
      sender: SYSTEM,
      user: { id: 'alice', name: 'Alice' },
    });
    const { rooms } = await alice.ok('room:list');
    expect(rooms).toContainEqual({ id: 'team-1', name: 'team-1', members: 1, private: false });
    const { messages } = await alice.ok('room:history', { roomId: 'team-1' });
    expect(messages).toEqual([join]);
  });

  it('should trim the given name and create a private room owned by its creator', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');

    const { room } = await alice.ok('room:create', {
      roomId: 'priv.1',
      name: '  철수네 방 🎲  ',
      private: true,
    });

    expect(room).toEqual({ id: 'priv.1', name: '철수네 방 🎲', private: true });
    await alice.waitFor(joinOf('priv.1', 'alice'));
    expectError(await bob.request('room:join', { roomId: 'priv.1' }), 'FORBIDDEN');
    // The creator owns it: it may invite.
    await alice.ok('room:invite', { roomId: 'priv.1', userId: 'bob' });
    const joined = await bob.ok('room:join', { roomId: 'priv.1' });
    expect(joined.room.name).toBe('철수네 방 🎲');
  });

  it('should accept a name of exactly 64 code points', async () => {
    const alice = await h.clients.as('alice');
    const name = '🎲'.repeat(64);

    const { room } = await alice.ok('room:create', { roomId: 'long-name', name });

    expect(room.name).toBe(name);
  });

  it('should refuse an id that exists with ALREADY_EXISTS', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'taken' });

    expectError(await bob.request('room:create', { roomId: 'taken' }), 'ALREADY_EXISTS');
    expectError(
      await alice.request('room:create', { roomId: 'taken', private: true }),
      'ALREADY_EXISTS',
    );
    expectError(await bob.request('room:create', { roomId: 'general' }), 'ALREADY_EXISTS');
  });

  it.each([
    ['a missing roomId', {}],
    ['an id with a space', { roomId: 'bad id' }],
    ['an id with a slash', { roomId: 'a/b' }],
    ['an empty id', { roomId: '' }],
    ['an id of 65 chars', { roomId: 'r'.repeat(65) }],
    ['a numeric id', { roomId: 42 }],
    ['a null name', { roomId: 'r1', name: null }],
    ['a blank name', { roomId: 'r1', name: '   ' }],
    ['a name of 65 code points', { roomId: 'r1', name: '😀'.repeat(65) }],
    ['a name with a control character', { roomId: 'r1', name: 'bad\u0007name' }],
    ['a non-string name', { roomId: 'r1', name: 7 }],
    ['a non-boolean private', { roomId: 'r1', private: 'yes' }],
    ['a null private', { roomId: 'r1', private: null }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('room:create', payload), 'INVALID_PAYLOAD');

    expectError(await alice.request('room:join', { roomId: 'r1' }), 'NOT_FOUND');
  });
});

// ---- room:join -------------------------------------------------------------------------

describe('room:join', () => {
  const h = useApp();

  it('should reply with the room and its members and send room_join to every member', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });

    const reply = await bob.ok('room:join', { roomId: 'general' });

    expect(reply.room.id).toBe('general');
    expect(reply.room.name).toBe('general');
    expect(reply.room.members).toHaveLength(2);
    expect(reply.room.members).toEqual(
      expect.arrayContaining([
        { id: 'alice', name: 'Alice' },
        { id: 'bob', name: 'Bob' },
      ]),
    );
    expect(reply.complete).toBe(true);
    const atAlice = await alice.waitFor(joinOf('general', 'bob'));
    const atBob = await bob.waitFor(joinOf('general', 'bob'));
    expect(atAlice).toEqual(atBob);
    expect(atBob).toMatchObject({ seq: 2, sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(atBob.content).toContain('Bob');
    expect(reply.messages.at(-1)).toEqual(atBob);
  });

  it('should return every event after since, oldest first, the own room_join last', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'r' }); // seq 1
    await bob.ok('room:join', { roomId: 'r' }); // seq 2
    await bob.ok('room:leave', { roomId: 'r' }); // seq 3
    const left = await bob.waitFor(leaveOf('r', 'bob'));
    expect(left.seq).toBe(3);
    const sent = [
      (await alice.ok('room:message', { roomId: 'r', content: 'one' })).message,
      (await alice.ok('room:message', { roomId: 'r', content: 'two' })).message,
      (await alice.ok('room:message', { roomId: 'r', content: 'three' })).message,
    ];

    const reply = await bob.ok('room:join', { roomId: 'r', since: 3 });

    expect(reply.complete).toBe(true);
    expect(reply.messages).toHaveLength(4);
    expect(reply.messages.slice(0, 3)).toEqual(sent);
    expect(reply.messages[3]).toMatchObject({ type: 'room_join', seq: 7, user: { id: 'bob' } });
    expect(reply.messages[3]).toEqual(
      await bob.waitFor((m) => joinOf('r', 'bob')(m) && m.seq === 7),
    );
  });

  it('should accept joining twice without a new room_join', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await bob.ok('room:join', { roomId: 'general' });
    await alice.ok('room:join', { roomId: 'general' });

    const again = await alice.request('room:join', { roomId: 'general' });

    expect(again.ok).toBe(true);
    const marker = await roomMarker(alice, 'general', [alice, bob]);
    expect(marker.seq).toBe(3);
    expect(alice.received.filter(joinOf('general', 'alice'))).toHaveLength(1);
    expect(bob.received.filter(joinOf('general', 'alice'))).toHaveLength(1);
    expect(data(again).room.members).toHaveLength(2);
  });

  it('should answer NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('room:join', { roomId: 'nowhere' }), 'NOT_FOUND');
    expectError(await alice.request('room:join', { roomId: 'nowhere', since: 0 }), 'NOT_FOUND');
  });

  it('should let only the creator and invitees join a private room, others get FORBIDDEN', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    await alice.ok('room:create', { roomId: 'vault', private: true });

    expectError(await bob.request('room:join', { roomId: 'vault' }), 'FORBIDDEN');
    await alice.ok('room:invite', { roomId: 'vault', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'vault' });
    expectError(await carol.request('room:join', { roomId: 'vault' }), 'FORBIDDEN');
    await alice.ok('room:leave', { roomId: 'vault' });
    await alice.ok('room:join', { roomId: 'vault' });
  });

  it.each([
    ['a negative since', { roomId: 'general', since: -1 }],
    ['a fractional since', { roomId: 'general', since: 1.5 }],
    ['a string since', { roomId: 'general', since: '3' }],
    ['a null since', { roomId: 'general', since: null }],
    ['a missing roomId', { since: 0 }],
    ['a bad roomId', { roomId: 'no way' }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('room:join', payload), 'INVALID_PAYLOAD');
  });
});

describe('room:join with a long history', () => {
  const h = useApp(HIGH_RATE);

  it('should return the last 50 events without since, the own room_join last', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'busy' }); // seq 1
    await fill(alice, 'busy', 60); // seq 2..61

    const reply = await bob.ok('room:join', { roomId: 'busy' }); // seq 62

    expect(reply.complete).toBe(true);
    expect(seqs(reply.messages)).toEqual(range(13, 62));
    expect(reply.messages.at(-1)).toMatchObject({
      type: 'room_join',
      user: { id: 'bob', name: 'Bob' },
    });
  });

  it('should return every retained event after since, not only the last 50', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const carol = await h.clients.as('carol', 'Carol');
    await alice.ok('room:create', { roomId: 'busy' }); // seq 1
    await fill(alice, 'busy', 60); // seq 2..61

    const reply = await carol.ok('room:join', { roomId: 'busy', since: 0 }); // seq 62

    expect(reply.complete).toBe(true);
    expect(seqs(reply.messages)).toEqual(range(1, 62));
    expect(reply.messages.at(-1)).toMatchObject({ type: 'room_join', user: { id: 'carol' } });
  });
});

describe('room:join with a short retention', () => {
  const h = useApp({ HISTORY_MAX_PER_ROOM: '5' });

  it('should set complete to false only when events after since were dropped', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    const dave = await h.clients.as('dave', 'Dave');
    await alice.ok('room:create', { roomId: 'short' }); // seq 1
    await bob.ok('room:join', { roomId: 'short' }); // seq 2
    await bob.ok('room:leave', { roomId: 'short' }); // seq 3
    for (let i = 0; i < 10; i++)
      await alice.ok('room:message', { roomId: 'short', content: `m${i}` }); // 4..13

    const lagging = await bob.ok('room:join', { roomId: 'short', since: 3 }); // seq 14
    const recent = await carol.ok('room:join', { roomId: 'short', since: 13 }); // seq 15
    const fresh = await dave.ok('room:join', { roomId: 'short' }); // seq 16

    expect(lagging.complete).toBe(false);
    expect(lagging.messages.length).toBeLessThanOrEqual(5);
    expect(lagging.messages[0]?.seq).toBeGreaterThan(4);
    const laggingSeqs = seqs(lagging.messages);
    expect(laggingSeqs).toEqual(range(laggingSeqs[0] ?? 0, 14));
    expect(lagging.messages.at(-1)).toMatchObject({ type: 'room_join', user: { id: 'bob' } });

    expect(recent.complete).toBe(true);
    expect(seqs(recent.messages)).toEqual([14, 15]);

    expect(fresh.complete).toBe(true);
    expect(fresh.messages.length).toBeLessThanOrEqual(5);
    expect(fresh.messages.at(-1)).toMatchObject({
      type: 'room_join',
      seq: 16,
      user: { id: 'dave' },
    });
  });
});

// ---- room:leave ------------------------------------------------------------------------

describe('room:leave', () => {
  const h = useApp();

  it('should send room_leave to the remaining members and to the leaver', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    for (const c of [alice, bob, carol]) await c.ok('room:join', { roomId: 'general' });

    const reply = await bob.request('room:leave', { roomId: 'general' });

    expect(reply).toEqual({ ok: true });
    const [atAlice, atBob, atCarol] = await Promise.all(
      [alice, bob, carol].map((c) => c.waitFor(leaveOf('general', 'bob'))),
    );
    expect(atAlice).toMatchObject({
      type: 'room_leave',
      roomId: 'general',
      seq: 4,
      sender: SYSTEM,
      user: { id: 'bob', name: 'Bob' },
    });
    expect(atAlice?.content).toContain('Bob');
    expect(atBob).toEqual(atAlice);
    expect(atCarol).toEqual(atAlice);
    expectError(
      await bob.request('room:message', { roomId: 'general', content: 'hi' }),
      'NOT_MEMBER',
    );
    const { room } = await carol.ok('room:join', { roomId: 'general' });
    expect(room.members.map((m) => m.id).sort()).toEqual(['alice', 'carol']);
  });

  it('should accept leaving a known room one is not in, without any event', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'dev' });

    const reply = await bob.request('room:leave', { roomId: 'dev' });

    expect(reply).toEqual({ ok: true });
    const marker = await roomMarker(alice, 'dev', [alice]);
    expect(marker.seq).toBe(2);
  });

  it('should answer NOT_FOUND for an unknown room and INVALID_PAYLOAD for a bad one', async () => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('room:leave', { roomId: 'nowhere' }), 'NOT_FOUND');
    expectError(await alice.request('room:leave', { roomId: 'not valid' }), 'INVALID_PAYLOAD');
    expectError(await alice.request('room:leave', {}), 'INVALID_PAYLOAD');
  });
});

// ---- room:invite -----------------------------------------------------------------------

describe('room:invite', () => {
  const h = useApp();

  it('should let only the owner invite: members and others get FORBIDDEN', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    const carol = await h.clients.as('carol');
    await alice.ok('room:create', { roomId: 'club', private: true });
    await alice.ok('room:invite', { roomId: 'club', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'club' });

    expectError(await bob.request('room:invite', { roomId: 'club', userId: 'carol' }), 'FORBIDDEN');
    expectError(
      await carol.request('room:invite', { roomId: 'club', userId: 'carol' }),
      'FORBIDDEN',
    );
    expectError(await carol.request('room:join', { roomId: 'club' }), 'FORBIDDEN');
  });

  it('should let an invitee that was offline at the time join the private room', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    await alice.ok('room:create', { roomId: 'club', private: true });
    const invite = await alice.request('room:invite', { roomId: 'club', userId: 'dave' });

    expect(invite).toEqual({ ok: true });
    const dave = await h.clients.as('dave', 'Dave');
    const { room } = await dave.ok('room:join', { roomId: 'club' });
    expect(room.members.map((m) => m.id).sort()).toEqual(['alice', 'dave']);
    await alice.waitFor(joinOf('club', 'dave'));
  });

  it('should keep the creator the owner after it left', async () => {
    const alice = await h.clients.as('alice');
    const carol = await h.clients.as('carol');
    await alice.ok('room:create', { roomId: 'club', private: true });
    await alice.ok('room:leave', { roomId: 'club' });

    await alice.ok('room:invite', { roomId: 'club', userId: 'carol' });

    await carol.ok('room:join', { roomId: 'club' });
    await alice.ok('room:join', { roomId: 'club' });
  });

  it('should accept an invitation to a public room and change nothing', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'pub' }); // seq 1
    await bob.ok('room:join', { roomId: 'pub' }); // seq 2

    const reply = await alice.request('room:invite', { roomId: 'pub', userId: 'carol' });

    expect(reply).toEqual({ ok: true });
    const marker = await roomMarker(alice, 'pub', [alice, bob]);
    expect(marker.seq).toBe(3);
    expect(bob.received.filter((m) => m.roomId === 'pub').map((m) => m.type)).toEqual([
      'room_join',
      'room_chat',
    ]);
  });

  it('should answer NOT_FOUND for an unknown room and INVALID_PAYLOAD for a bad user id', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'club', private: true });

    expectError(
      await alice.request('room:invite', { roomId: 'nowhere', userId: 'bob' }),
      'NOT_FOUND',
    );
    expectError(
      await alice.request('room:invite', { roomId: 'club', userId: 'system' }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('room:invite', { roomId: 'club', userId: 'b b' }),
      'INVALID_PAYLOAD',
    );
    expectError(await alice.request('room:invite', { roomId: 'club' }), 'INVALID_PAYLOAD');
  });
});

// ---- room:message ----------------------------------------------------------------------

describe('room:message', () => {
  const h = useApp();

  it('should reply with the stored message and deliver it to every member, sender included', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2

    const reply = await alice.request('room:message', { roomId: 'general', content: 'hello' });

    const { message } = data(reply);
    expect(message).toMatchObject({
      type: 'room_chat',
      roomId: 'general',
      seq: 3,
      sender: { id: 'alice', name: 'Alice' },
      content: 'hello',
    });
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp);
    expectAbsent(message, 'recipient', 'user');
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
    const { messages } = await bob.ok('room:history', { roomId: 'general' });
    expect(messages.at(-1)).toEqual(message);
  });

  it('should answer NOT_MEMBER in a room one is not in, public or private', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'vault', private: true });

    expectError(
      await bob.request('room:message', { roomId: 'general', content: 'hi' }),
      'NOT_MEMBER',
    );
    expectError(
      await bob.request('room:message', { roomId: 'vault', content: 'hi' }),
      'NOT_MEMBER',
    );
  });

  it('should answer NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');

    expectError(
      await alice.request('room:message', { roomId: 'nowhere', content: 'hi' }),
      'NOT_FOUND',
    );
  });

  it.each([
    ['leading and trailing spaces', '   padded both sides   '],
    ['Korean', '철수 안녕하세요'],
    ['emoji sequences', 'family 👨‍👩‍👧‍👦, flag 🇰🇷, skin 👋🏽'],
    ['tab, newline and carriage return', '\tline one\nline two\r\nend\r'],
    ['markup-like text', '<b>bold</b> &amp; <script>alert("x")</script>'],
    ['combining marks', 'e\u0301 a\u0308'],
    ['a leading no-break space', '\u00a0nbsp'],
    ['a single character', 'x'],
  ])('should keep content with %s exactly as sent', async (_label, content) => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    const { message } = await alice.ok('room:message', { roomId: 'general', content });

    expect(message.content).toBe(content);
    expect((await bob.waitFor(withId(message.id))).content).toBe(content);
    const { messages } = await bob.ok('room:history', { roomId: 'general' });
    expect(messages.at(-1)?.content).toBe(content);
  });

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['mixed whitespace', ' \t\n\r '],
    ['an ideographic space', '\u3000'],
    ['a byte order mark', '\uFEFF'],
    ['a no-break space', '\u00a0'],
    ['a line separator', '\u2028'],
  ])('should refuse %s content with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:message', { roomId: 'general', content }),
      'INVALID_PAYLOAD',
    );
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['only NUL', '\u0000'],
    ['a bell', 'ring \u0007'],
    ['an escape sequence', '\u001b[31mred'],
    ['a vertical tab', 'a\u000bb'],
    ['a form feed', 'a\u000cb'],
    ['a DEL', 'a\u007f'],
    ['a C1 control (NEL)', 'a\u0085b'],
    ['a C1 control (APC)', 'a\u009fb'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a trailing high surrogate', 'smile \ud83d'],
    ['a leading low surrogate', '\ude00 smile'],
    ['reversed surrogates', '\ude00\ud83d'],
  ])('should refuse content with %s with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:message', { roomId: 'general', content }),
      'INVALID_PAYLOAD',
    );
  });

  it.each([
    ['a number', 42],
    ['a boolean', true],
    ['an object', { text: 'hi' }],
    ['an array', ['hi']],
    ['null', null],
    ['absent', undefined],
  ])('should refuse content that is %s with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const payload: Record<string, unknown> = { roomId: 'general' };
    if (content !== undefined) payload.content = content;

    expectError(await alice.request('room:message', payload), 'INVALID_PAYLOAD');
  });

  it('should count code points: 2000 emoji are accepted, 2001 code points are TOO_LARGE', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const maxEmoji = '😀'.repeat(2000);
    const maxKorean = '철'.repeat(2000);

    const emoji = await alice.request('room:message', { roomId: 'general', content: maxEmoji });
    const korean = await alice.request('room:message', { roomId: 'general', content: maxKorean });

    expect(data(emoji).message.content).toBe(maxEmoji);
    expect(data(korean).message.content).toBe(maxKorean);
    for (const content of ['a'.repeat(2001), '😀'.repeat(2001), '😀'.repeat(2000) + 'a']) {
      expectError(await alice.request('room:message', { roomId: 'general', content }), 'TOO_LARGE');
    }
  });

  it('should refuse a far too long message with TOO_LARGE and keep the connection', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    const reply = await alice.request('room:message', {
      roomId: 'general',
      content: 'x'.repeat(50_000),
    });

    expectError(reply, 'TOO_LARGE');
    expect(alice.socket.connected).toBe(true);
    await alice.ok('room:message', { roomId: 'general', content: 'still here' });
  });

  it('should rank INVALID_PAYLOAD before TOO_LARGE', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const long = 'a'.repeat(2500);

    const cases: Array<Record<string, unknown>> = [
      { roomId: 'general', content: long + '\u0000' },
      { roomId: 'general', content: long + '\ud800' },
      { roomId: 'general', content: ' '.repeat(3000) },
      { roomId: 'not a room', content: long },
      { roomId: 'general', content: long, clientMsgId: 'not valid!' },
      { roomId: 'general', content: long, clientMsgId: null },
    ];
    for (const payload of cases) {
      expectError(await alice.request('room:message', payload), 'INVALID_PAYLOAD');
    }
    expectError(
      await alice.request('private:message', { to: 'system', content: long }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('memo:send', { to: 'bob', content: long + '\u0007' }),
      'INVALID_PAYLOAD',
    );
  });

  it('should rank TOO_LARGE before NOT_FOUND, NOT_MEMBER and USER_OFFLINE', async () => {
    const alice = await h.clients.as('alice');
    const long = 'a'.repeat(2001);

    expectError(
      await alice.request('room:message', { roomId: 'nowhere', content: long }),
      'TOO_LARGE',
    );
    expectError(
      await alice.request('room:message', { roomId: 'general', content: long }),
      'TOO_LARGE',
    );
    expectError(
      await alice.request('private:message', { to: 'offline', content: long }),
      'TOO_LARGE',
    );
    expectError(await alice.request('memo:send', { to: 'offline', content: long }), 'TOO_LARGE');
  });

  it('should rank NOT_FOUND before NOT_MEMBER for every room event', async () => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('room:message', { roomId: 'gone', content: 'x' }), 'NOT_FOUND');
    expectError(await alice.request('room:history', { roomId: 'gone' }), 'NOT_FOUND');
    expectError(await alice.request('typing', { roomId: 'gone' }), 'NOT_FOUND');
    expectError(await alice.request('room:leave', { roomId: 'gone' }), 'NOT_FOUND');
    expectError(await alice.request('room:invite', { roomId: 'gone', userId: 'bob' }), 'NOT_FOUND');
  });

  describe('with MAX_MESSAGE_LENGTH configured', () => {
    const small = useApp({ MAX_MESSAGE_LENGTH: '10' });

    it('should accept exactly the maximum in code points and refuse one more', async () => {
      const alice = await small.clients.as('alice');
      const bob = await small.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });
      const family = '👨‍👩‍👧'; // 5 code points, 8 UTF-16 units

      const ten = await alice.request('room:message', { roomId: 'general', content: '0123456789' });
      const twoFamilies = await alice.request('room:message', {
        roomId: 'general',
        content: family + family,
      });

      expect(data(ten).message.content).toBe('0123456789');
      expect(data(twoFamilies).message.content).toBe(family + family);
      expectError(
        await alice.request('room:message', { roomId: 'general', content: '01234567890' }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('room:message', { roomId: 'general', content: family + family + '!' }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('private:message', { to: 'bob', content: '😀'.repeat(11) }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('memo:send', { to: 'bob', content: '😀'.repeat(11) }),
        'TOO_LARGE',
      );
      await alice.ok('private:message', { to: 'bob', content: '😀'.repeat(10) });
      await bob.waitFor((m) => m.type === 'private_chat');
    });
  });
});

// ---- message shapes --------------------------------------------------------------------

describe('message shape', () => {
  const h = useApp();

  function expectCommon(message: ChatMessage): void {
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp);
    expect(typeof message.content).toBe('string');
  }

  it('should give every message type the fields of the contract and omit the others', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    await alice.ok('room:message', { roomId: 'general', content: 'chat' });
    await alice.ok('private:message', { to: 'bob', content: 'pm' });
    await alice.ok('memo:send', { to: 'bob', content: 'memo' });
    await bob.ok('room:leave', { roomId: 'general' });

    const connect = await alice.waitFor(connectOf('bob'));
    const join = await alice.waitFor(joinOf('general', 'bob'));
    const chat = await bob.waitFor((m) => m.type === 'room_chat');
    const pm = await bob.waitFor((m) => m.type === 'private_chat');
    const memo = await bob.waitFor((m) => m.type === 'instant_message');
    const leave = await alice.waitFor(leaveOf('general', 'bob'));
    bob.close();
    const disconnect = await alice.waitFor(disconnectOf('bob'));

    for (const m of [connect, join, chat, pm, memo, leave, disconnect]) expectCommon(m);
    expect(connect).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(connect.content).toContain('Bob');
    expectAbsent(connect, 'roomId', 'seq', 'recipient');
    expect(join).toMatchObject({
      sender: SYSTEM,
      roomId: 'general',
      seq: 2,
      user: { id: 'bob', name: 'Bob' },
    });
    expectAbsent(join, 'recipient');
    expect(chat).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      roomId: 'general',
      seq: 3,
    });
    expectAbsent(chat, 'recipient', 'user');
    expect(pm).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: 'pm',
    });
    expectAbsent(pm, 'roomId', 'seq', 'user');
    expect(memo).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: 'memo',
    });
    expectAbsent(memo, 'roomId', 'seq', 'user');
    expect(leave).toMatchObject({
      sender: SYSTEM,
      roomId: 'general',
      seq: 4,
      user: { id: 'bob', name: 'Bob' },
    });
    expect(leave.content).toContain('Bob');
    expectAbsent(leave, 'recipient');
    expect(disconnect).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(disconnect.content).toContain('Bob');
    expectAbsent(disconnect, 'roomId', 'seq', 'recipient');
  });
});

// ---- clientMsgId -----------------------------------------------------------------------

describe('clientMsgId', () => {
  const h = useApp();

  async function room(): Promise<{ alice: TestClient; bob: TestClient }> {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2
    return { alice, bob };
  }

  it('should return the first stored message on a retry and deliver it only once', async () => {
    const { alice, bob } = await room();

    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'first',
      clientMsgId: 'cm-1',
    });
    const retry = await alice.request('room:message', {
      roomId: 'general',
      content: 'second',
      clientMsgId: 'cm-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message });
    const marker = await roomMarker(alice, 'general', [alice, bob]);
    expect(marker.seq).toBe((first.message.seq ?? 0) + 1);
    for (const c of [alice, bob]) {
      expect(c.received.filter(withId(first.message.id))).toHaveLength(1);
      expect(c.received.filter((m) => m.content === 'second')).toHaveLength(0);
    }
  });

  it('should return the first message whatever changed since and whatever the retry carries', async () => {
    const { alice, bob } = await room();
    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'once',
      clientMsgId: 'cm-2',
    });
    await alice.ok('room:leave', { roomId: 'general' });

    const sameRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'once',
      clientMsgId: 'cm-2',
    });
    const otherRoom = await alice.request('room:message', {
      roomId: 'game',
      content: 'x',
      clientMsgId: 'cm-2',
    });
    const unknownRoom = await alice.request('room:message', {
      roomId: 'nope',
      content: 'x',
      clientMsgId: 'cm-2',
    });

    expect(sameRoom).toEqual({ ok: true, message: first.message });
    expect(otherRoom).toEqual({ ok: true, message: first.message });
    expect(unknownRoom).toEqual({ ok: true, message: first.message });
    const marker = await roomMarker(bob, 'general', [bob]);
    expect(bob.received.filter(withId(first.message.id))).toHaveLength(1);
    expect(marker.seq).toBe(5); // 3: the message, 4: alice's leave
  });

  it('should be shared by room:message, private:message and memo:send', async () => {
    const { alice, bob } = await room();

    const roomFirst = await alice.ok('room:message', {
      roomId: 'general',
      content: 'r',
      clientMsgId: 'x-1',
    });
    const asPrivate = await alice.request('private:message', {
      to: 'bob',
      content: 'p',
      clientMsgId: 'x-1',
    });
    const asMemo = await alice.request('memo:send', {
      to: 'bob',
      content: 'm',
      clientMsgId: 'x-1',
    });
    const pmFirst = await alice.ok('private:message', {
      to: 'bob',
      content: 'p2',
      clientMsgId: 'x-2',
    });
    const pmAsRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'r2',
      clientMsgId: 'x-2',
    });
    const pmAsMemo = await alice.request('memo:send', {
      to: 'bob',
      content: 'm2',
      clientMsgId: 'x-2',
    });
    const memoFirst = await alice.ok('memo:send', { to: 'bob', content: 'm3', clientMsgId: 'x-3' });
    const memoAsRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'r3',
      clientMsgId: 'x-3',
    });
    const memoAsPrivate = await alice.request('private:message', {
      to: 'bob',
      content: 'p3',
      clientMsgId: 'x-3',
    });

    expect(data(asPrivate).message).toEqual(roomFirst.message);
    expect(data(asMemo).message).toEqual(roomFirst.message);
    expect(data(pmAsRoom).message).toEqual(pmFirst.message);
    expect(data(pmAsMemo).message).toEqual(pmFirst.message);
    expect(data(memoAsRoom).message).toEqual(memoFirst.message);
    expect(data(memoAsPrivate).message).toEqual(memoFirst.message);
    await roomMarker(alice, 'general', [alice, bob]);
    await memoMarker(alice, 'bob', [bob]);
    const contents = bob.received.map((m) => m.content);
    for (const never of ['p', 'm', 'r2', 'm2', 'r3', 'p3']) expect(contents).not.toContain(never);
    for (const once of ['r', 'p2', 'm3'])
      expect(contents.filter((c) => c === once)).toHaveLength(1);
  });

  it('should answer a memo retry with the first delivered flag and deliver nothing twice', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    const first = await alice.ok('memo:send', {
      to: 'dave',
      content: 'while away',
      clientMsgId: 'memo-1',
    });
    expect(first.delivered).toBe(false);
    const dave = await h.clients.as('dave', 'Dave');
    await dave.waitFor(withId(first.message.id));
    const retry = await alice.request('memo:send', {
      to: 'dave',
      content: 'again',
      clientMsgId: 'memo-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message, delivered: false });
    await memoMarker(alice, 'dave', [dave]);
    expect(dave.received.filter(withId(first.message.id))).toHaveLength(1);
    expect(dave.received.filter((m) => m.content === 'again')).toHaveLength(0);
  });

  it('should scope ids to the user', async () => {
    const { alice, bob } = await room();

    const fromAlice = await alice.ok('room:message', {
      roomId: 'general',
      content: 'A',
      clientMsgId: 'same',
    });
    const fromBob = await bob.ok('room:message', {
      roomId: 'general',
      content: 'B',
      clientMsgId: 'same',
    });

    expect(fromBob.message.id).not.toBe(fromAlice.message.id);
    expect(fromBob.message).toMatchObject({ content: 'B', sender: { id: 'bob' } });
  });

  it('should recognise a retry from another socket of the same user', async () => {
    const { alice, bob } = await room();
    const alice2 = await h.clients.as('alice', 'Alice');
    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'one',
      clientMsgId: 'tab-1',
    });

    const retry = await alice2.request('room:message', {
      roomId: 'general',
      content: 'one',
      clientMsgId: 'tab-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message });
    await roomMarker(bob, 'general', [alice, alice2, bob]);
    for (const c of [alice, alice2, bob])
      expect(c.received.filter(withId(first.message.id))).toHaveLength(1);
  });

  it('should answer pipelined duplicates with one message', async () => {
    const { alice, bob } = await room();

    const replies = await Promise.all(
      [1, 2, 3].map(() =>
        alice.ok('room:message', { roomId: 'general', content: 'dup', clientMsgId: 'pipe' }),
      ),
    );

    expect(replies[1]?.message).toEqual(replies[0]?.message);
    expect(replies[2]?.message).toEqual(replies[0]?.message);
    await roomMarker(alice, 'general', [bob]);
    expect(bob.received.filter((m) => m.content === 'dup')).toHaveLength(1);
  });

  it.each([
    ['an empty id', ''],
    ['a space', 'has space'],
    ['65 chars', 'c'.repeat(65)],
    ['a non-ASCII letter', 'ü'],
    ['a slash', 'a/b'],
    ['a number', 42],
  ])('should refuse a clientMsgId with %s with INVALID_PAYLOAD', async (_label, clientMsgId) => {
    const { alice } = await room();

    expectError(
      await alice.request('room:message', { roomId: 'general', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('private:message', { to: 'bob', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('memo:send', { to: 'bob', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
  });

  it('should accept a UUID, 64 chars and every allowed punctuation', async () => {
    const { alice } = await room();

    for (const clientMsgId of [randomUUID(), 'c'.repeat(64), 'a:b.c_d-e']) {
      await alice.ok('room:message', { roomId: 'general', content: clientMsgId, clientMsgId });
    }
  });

  it('should still validate a retry before looking the id up', async () => {
    const { alice } = await room();
    await alice.ok('room:message', { roomId: 'general', content: 'ok', clientMsgId: 'v-1' });

    expectError(
      await alice.request('room:message', {
        roomId: 'general',
        content: '   ',
        clientMsgId: 'v-1',
      }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('room:message', {
        roomId: 'general',
        content: 'a\u0000',
        clientMsgId: 'v-1',
      }),
      'INVALID_PAYLOAD',
    );
  });
});

// ---- room:history ----------------------------------------------------------------------

describe('room:history', () => {
  const h = useApp();

  async function history(): Promise<{ alice: TestClient; all: ChatMessage[] }> {
    const alice = await h.clients.as('alice', 'Alice');
    await alice.ok('room:create', { roomId: 'hist' }); // seq 1
    const join = await alice.waitFor(joinOf('hist', 'alice'));
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push((await alice.ok('room:message', { roomId: 'hist', content: `h${i}` })).message); // 2..11
    }
    return { alice, all: [join, ...sent] };
  }

  it('should return every retained event, oldest first, when before is absent', async () => {
    const { alice, all } = await history();

    const { messages } = await alice.ok('room:history', { roomId: 'hist' });

    expect(messages).toEqual(all);
  });

  it('should return the newest limit events before a seq, oldest first', async () => {
    const { alice, all } = await history();

    const beforeSix = await alice.ok('room:history', { roomId: 'hist', before: 6 });
    const twoBeforeSix = await alice.ok('room:history', { roomId: 'hist', before: 6, limit: 2 });
    const newestThree = await alice.ok('room:history', { roomId: 'hist', limit: 3 });
    const beforeOne = await alice.ok('room:history', { roomId: 'hist', before: 1 });
    const beforeZero = await alice.ok('room:history', { roomId: 'hist', before: 0 });
    const beyond = await alice.ok('room:history', { roomId: 'hist', before: 1000 });
    const one = await alice.ok('room:history', { roomId: 'hist', limit: 1 });

    expect(seqs(beforeSix.messages)).toEqual([1, 2, 3, 4, 5]);
    expect(twoBeforeSix.messages).toEqual(all.slice(3, 5));
    expect(seqs(newestThree.messages)).toEqual([9, 10, 11]);
    expect(beforeOne.messages).toEqual([]);
    expect(beforeZero.messages).toEqual([]);
    expect(beyond.messages).toEqual(all);
    expect(one.messages).toEqual([all[10]]);
  });

  it.each([
    ['limit 0', { limit: 0 }],
    ['a negative limit', { limit: -1 }],
    ['a fractional limit', { limit: 1.5 }],
    ['a string limit', { limit: '10' }],
    ['a null limit', { limit: null }],
    ['a negative before', { before: -1 }],
    ['a fractional before', { before: 2.5 }],
    ['a string before', { before: '3' }],
    ['a null before', { before: null }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, extra) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:history', { roomId: 'general', ...extra }),
      'INVALID_PAYLOAD',
    );
  });

  it('should answer NOT_MEMBER to a non-member, private room or not, and NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'vault', private: true });
    await alice.ok('room:invite', { roomId: 'vault', userId: 'bob' });

    expectError(await bob.request('room:history', { roomId: 'general' }), 'NOT_MEMBER');
    expectError(await bob.request('room:history', { roomId: 'vault' }), 'NOT_MEMBER');
    expectError(await bob.request('room:history', { roomId: 'nowhere' }), 'NOT_FOUND');
  });
});

describe('room:history with a long history', () => {
  const h = useApp(HIGH_RATE);

  it('should default to 50 events and cut a larger limit to 200', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'long' }); // seq 1
    await fill(alice, 'long', 210); // seq 2..211

    const byDefault = await alice.ok('room:history', { roomId: 'long' });
    const max = await alice.ok('room:history', { roomId: 'long', limit: 200 });
    const over = await alice.ok('room:history', { roomId: 'long', limit: 201 });
    const huge = await alice.ok('room:history', { roomId: 'long', limit: 100_000 });
    const before = await alice.ok('room:history', { roomId: 'long', before: 100, limit: 500 });

    expect(seqs(byDefault.messages)).toEqual(range(162, 211));
    expect(seqs(max.messages)).toEqual(range(12, 211));
    expect(seqs(over.messages)).toEqual(range(12, 211));
    expect(seqs(huge.messages)).toEqual(range(12, 211));
    expect(seqs(before.messages)).toEqual(range(1, 99));
  });
});

// ---- private:message -------------------------------------------------------------------

describe('private:message', () => {
  const h = useApp();

  it('should deliver private_chat with its recipient to every socket of sender and recipient', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const alice2 = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const bob2 = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');

    const reply = await alice.request('private:message', { to: 'bob', content: ' hi bob ' });

    const { message } = data(reply);
    expect(message).toMatchObject({
      type: 'private_chat',
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: ' hi bob ',
    });
    expect(message.id).toMatch(UUID);
    expectAbsent(message, 'roomId', 'seq', 'user');
    for (const c of [alice, alice2, bob, bob2])
      expect(await c.waitFor(withId(message.id))).toEqual(message);
    await memoMarker(bob, 'carol', [carol]);
    expect(carol.received.filter((m) => m.type === 'private_chat')).toHaveLength(0);
  });

  it('should answer USER_OFFLINE when the recipient has no socket', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    bob.close();
    await alice.waitFor(disconnectOf('bob'));

    expectError(
      await alice.request('private:message', { to: 'bob', content: 'hi' }),
      'USER_OFFLINE',
    );
    expectError(
      await alice.request('private:message', { to: 'never-seen', content: 'hi' }),
      'USER_OFFLINE',
    );
  });

  it.each([
    ['the reserved id', { to: 'system', content: 'hi' }],
    ['a bad id', { to: 'b b', content: 'hi' }],
    ['a missing recipient', { content: 'hi' }],
    ['a numeric recipient', { to: 7, content: 'hi' }],
    ['a blank content', { to: 'bob', content: ' ' }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');
    await h.clients.as('bob');

    expectError(await alice.request('private:message', payload), 'INVALID_PAYLOAD');
  });
});

// ---- memo:send -------------------------------------------------------------------------

describe('memo:send', () => {
  const h = useApp();

  it('should deliver a memo to an online recipient and report delivered true', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');

    const reply = await alice.request('memo:send', { to: 'bob', content: '쪽지 왔어요' });

    const { message, delivered } = data(reply);
    expect(delivered).toBe(true);
    expect(message).toMatchObject({
      type: 'instant_message',
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: '쪽지 왔어요',
    });
    expectAbsent(message, 'roomId', 'seq', 'user');
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
  });

  it('should store a memo for an offline user and deliver it once, on its next connect only', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    const first = await alice.ok('memo:send', { to: 'bob', content: 'first memo' });
    const second = await alice.ok('memo:send', { to: 'bob', content: 'second memo' });

    expect(first.delivered).toBe(false);
    expect(second.delivered).toBe(false);
    expect(first.message.recipient?.id).toBe('bob');
    await alice.waitFor(withId(first.message.id));
    const bob = await h.clients.as('bob', 'Bob');
    const got = [
      await bob.waitFor(withId(first.message.id)),
      await bob.waitFor(withId(second.message.id)),
    ];
    expect(got[0]).toEqual(first.message);
    expect(got[1]).toEqual(second.message);
    const memos = bob.received.filter((m) => m.type === 'instant_message');
    expect(memos.map((m) => m.content)).toEqual(['first memo', 'second memo']);

    bob.close();
    await alice.waitFor(disconnectOf('bob'));
    const bobAgain = await h.clients.as('bob', 'Bob');
    await bobAgain.waitFor(connectOf('bob'));
    const marker = await memoMarker(alice, 'bob', [bobAgain]);
    expect(bobAgain.received.filter((m) => m.type === 'instant_message')).toEqual([marker]);
  });

  it('should accept a memo to any valid user id, even one never seen', async () => {
    const alice = await h.clients.as('alice');

    const reply = await alice.request('memo:send', { to: 'someone.else_42', content: 'hello?' });

    expect(data(reply).delivered).toBe(false);
  });

  it.each([
    ['the reserved id', { to: 'system', content: 'hi' }],
    ['a bad id', { to: 'x'.repeat(65), content: 'hi' }],
    ['a missing recipient', { content: 'hi' }],
    ['a missing content', { to: 'bob' }],
    ['a control character', { to: 'bob', content: 'a\u0001' }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('memo:send', payload), 'INVALID_PAYLOAD');
  });
});

// ---- typing ----------------------------------------------------------------------------

describe('typing', () => {
  const h = useApp();

  it('should send typing to the other members and not to the sender', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    for (const c of [alice, bob, carol]) await c.ok('room:join', { roomId: 'general' });

    const reply = await alice.request('typing', { roomId: 'general' });

    expect(reply).toEqual({ ok: true });
    const expected = { roomId: 'general', user: { id: 'alice', name: 'Alice' } };
    expect(await bob.waitForEvent('typing')).toEqual(expected);
    expect(await carol.waitForEvent('typing')).toEqual(expected);
    await bob.ok('typing', { roomId: 'general' });
    await alice.waitForEvent('typing', (e) => e.user.id === 'bob');
    expect(alice.events('typing').filter((e) => e.user.id === 'alice')).toHaveLength(0);
  });

  it('should not send typing to users outside the room', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const dave = await h.clients.as('dave', 'Dave');
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });

    await dave.ok('room:join', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });

    await dave.waitForEvent('typing');
    await roomMarker(alice, 'general', [dave]);
    expect(dave.events('typing')).toEqual([
      { roomId: 'general', user: { id: 'alice', name: 'Alice' } },
    ]);
  });

  it('should answer NOT_MEMBER outside the room and NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'vault', private: true });
    const bob = await h.clients.as('bob');

    expectError(await bob.request('typing', { roomId: 'general' }), 'NOT_MEMBER');
    expectError(await bob.request('typing', { roomId: 'vault' }), 'NOT_MEMBER');
    expectError(await bob.request('typing', { roomId: 'nowhere' }), 'NOT_FOUND');
    expectError(await bob.request('typing', {}), 'INVALID_PAYLOAD');
  });
});

// ---- user:list -------------------------------------------------------------------------

describe('user:list', () => {
  const h = useApp();

  it('should list the online users once each', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', '철수');

    const none = await alice.ok('user:list');
    const empty = await alice.ok('user:list', {});

    expect(none.users).toHaveLength(2);
    expect(none.users).toEqual(
      expect.arrayContaining([
        { id: 'alice', name: 'Alice' },
        { id: 'bob', name: '철수' },
      ]),
    );
    expect(empty.users).toHaveLength(2);
    bob.close();
    await alice.waitFor(disconnectOf('bob'));
    const after = await alice.ok('user:list');
    expect(after.users).toEqual([{ id: 'alice', name: 'Alice' }]);
  });
});

// ---- payloads in general ---------------------------------------------------------------

describe('payload validation', () => {
  const h = useApp();

  it.each([
    ['room:create name', 'room:create', { roomId: 'n1', name: null }],
    ['room:create private', 'room:create', { roomId: 'n1', private: null }],
    ['room:join since', 'room:join', { roomId: 'general', since: null }],
    [
      'room:message clientMsgId',
      'room:message',
      { roomId: 'general', content: 'x', clientMsgId: null },
    ],
    ['room:history before', 'room:history', { roomId: 'general', before: null }],
    ['room:history limit', 'room:history', { roomId: 'general', limit: null }],
    [
      'private:message clientMsgId',
      'private:message',
      { to: 'bob', content: 'x', clientMsgId: null },
    ],
    ['memo:send clientMsgId', 'memo:send', { to: 'bob', content: 'x', clientMsgId: null }],
  ])(
    'should refuse null for the optional field %s with INVALID_PAYLOAD',
    async (_label, event, payload) => {
      const alice = await h.clients.as('alice');
      await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });

      expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      expectError(await alice.request('room:join', { roomId: 'n1' }), 'NOT_FOUND');
    },
  );

  it('should ignore sender fields in payloads: identity comes from the handshake', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    const forged = {
      sender: { id: 'bob', name: 'Bob' },
      user: { id: 'bob', name: 'Bob' },
      userId: 'bob',
      from: 'bob',
      name: 'Bob',
    };

    const room = await alice.request('room:message', {
      roomId: 'general',
      content: 'r',
      ...forged,
    });
    const pm = await alice.request('private:message', { to: 'bob', content: 'p', ...forged });
    const memo = await alice.request('memo:send', { to: 'bob', content: 'm', ...forged });
    const created = await alice.request('room:create', {
      roomId: 'mine',
      private: true,
      ownerId: 'bob',
      userId: 'bob',
    });

    for (const reply of [room, pm, memo]) {
      expect(data(reply).message.sender).toEqual({ id: 'alice', name: 'Alice' });
    }
    expect(data(created).room.id).toBe('mine');
    expect(await alice.waitFor(joinOf('mine', 'alice'))).toMatchObject({
      user: { id: 'alice', name: 'Alice' },
    });
    expectError(await bob.request('room:invite', { roomId: 'mine', userId: 'bob' }), 'FORBIDDEN');
    expectError(await bob.request('room:join', { roomId: 'mine' }), 'FORBIDDEN');
  });

  it.each([
    'room:delete',
    'message',
    'admin:kick',
    'constructor',
    '__proto__',
    'hasOwnProperty',
    'toString',
  ])('should answer the unknown event %s with INVALID_PAYLOAD through its ack', async (event) => {
    const alice = await h.clients.as('alice');

    expectError(await rawRequest(alice, event, { roomId: 'general' }), 'INVALID_PAYLOAD');
    expect((await alice.ok('user:list')).users).toHaveLength(1);
  });

  it('should report a failing event sent without an ack as chat:error', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    raw(alice).emit('room:message', { roomId: 'general', content: 'no ack needed' });
    await alice.waitFor((m) => m.content === 'no ack needed');
    raw(alice).emit('room:message', { roomId: 'nowhere', content: 'x' });
    const first = await alice.waitForEvent('chat:error');
    raw(alice).emit('room:dance', { roomId: 'general' });
    const second = await alice.waitForEvent('chat:error', (e) => e.event === 'room:dance');
    raw(alice).emit('room:join', 'general');
    const third = await alice.waitForEvent('chat:error', (e) => e.event === 'room:join');

    expect(first).toEqual({
      event: 'room:message',
      code: 'NOT_FOUND',
      message: expect.any(String),
    });
    expect(second).toEqual({
      event: 'room:dance',
      code: 'INVALID_PAYLOAD',
      message: expect.any(String),
    });
    expect(third).toEqual({
      event: 'room:join',
      code: 'INVALID_PAYLOAD',
      message: expect.any(String),
    });
    expect(alice.events('chat:error')).toHaveLength(3);
  });

  const events = [
    'room:create',
    'room:join',
    'room:leave',
    'room:invite',
    'room:message',
    'room:history',
    'private:message',
    'memo:send',
    'typing',
  ] as const;

  it.each(events)(
    'should refuse a payload that is not an object for %s with INVALID_PAYLOAD',
    async (event) => {
      const alice = await h.clients.as('alice');
      await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });

      for (const payload of [
        'general',
        42,
        true,
        null,
        [],
        [{ roomId: 'general', content: 'x', to: 'bob' }],
      ]) {
        expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      }
      expectError(await rawRequest(alice, event), 'INVALID_PAYLOAD');
    },
  );

  it.each(['room:list', 'user:list'] as const)(
    'should refuse a payload that is not an object for %s with INVALID_PAYLOAD',
    async (event) => {
      const alice = await h.clients.as('alice');

      for (const payload of ['all', 42, true, [], [{}]]) {
        expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      }
    },
  );

  it('should not disturb other users when a socket sends malformed input', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const mallory = await h.clients.as('mallory');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    await mallory.ok('room:join', { roomId: 'general' });

    const junk: unknown[][] = [
      ['room:message', { roomId: { $gt: '' }, content: 'x' }],
      ['room:message', { roomId: 'general', content: { toString: 'x' } }],
      ['room:join', { roomId: ['general'] }],
      ['room:create', { roomId: 'r'.repeat(10_000) }],
      ['memo:send', { to: 'bob', content: 'x'.repeat(200_000) }],
      ['room:message', 'x'.repeat(100_000)],
      ['private:message', { to: { id: 'bob' }, content: 'x' }],
      // Replies to these may be either; they must not break anything.
      ['room:message', JSON.parse('{"roomId":"general","content":"x","__proto__":{"admin":true}}')],
      ['room:history', { roomId: 'general', limit: 1e308 }],
      ['room:history', { roomId: 'general', before: Number.MAX_SAFE_INTEGER + 2 }],
    ];
    raw(mallory).emit('typing', { roomId: 'general' }, 'extra', 3);
    raw(mallory).emit('room:message');
    const replies = await Promise.all(
      junk.map(([event, ...args]) => rawRequest(mallory, String(event), ...args)),
    );

    for (const reply of replies) expect(reply).toMatchObject({ ok: expect.any(Boolean) });
    for (const reply of replies.slice(0, 7)) expect(reply).toMatchObject({ ok: false });
    const { message } = await alice.ok('room:message', {
      roomId: 'general',
      content: 'still fine',
    });
    await bob.waitFor(withId(message.id));
    expect(mallory.socket.connected).toBe(true);
  });
});

// ---- rate limits -----------------------------------------------------------------------

describe('rate limits', () => {
  describe('with the default limits', () => {
    const h = useApp();

    it('should accept a burst of 50 sends across room, private and memo events', async () => {
      const alice = await h.clients.as('alice');
      const bob = await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });

      const replies = await Promise.all([
        ...Array.from({ length: 20 }, (_, i) =>
          alice.request('room:message', { roomId: 'general', content: `r${i}` }),
        ),
        ...Array.from({ length: 15 }, (_, i) =>
          alice.request('private:message', { to: 'bob', content: `p${i}` }),
        ),
        ...Array.from({ length: 15 }, (_, i) =>
          alice.request('memo:send', { to: 'bob', content: `m${i}` }),
        ),
      ]);

      expect(replies.filter((r) => !r.ok)).toEqual([]);
      await bob.waitForCount((m) => m.type === 'instant_message', 15);
    });
  });

  describe('with a small burst', () => {
    const h = useApp({ RATE_LIMIT_BURST: '5', RATE_LIMIT_PER_SECOND: '1' });

    it('should answer RATE_LIMITED past the burst without affecting other users', async () => {
      const alice = await h.clients.as('alice');
      const bob = await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });
      await bob.ok('room:join', { roomId: 'general' });

      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          alice.request('room:message', { roomId: 'general', content: `${i}` }),
        ),
      );

      for (const reply of replies.slice(0, 5)) expect(reply.ok).toBe(true);
      expectError(replies[9], 'RATE_LIMITED');
      expectError(
        await alice.request('private:message', { to: 'bob', content: 'pm' }),
        'RATE_LIMITED',
      );
      await bob.ok('room:message', { roomId: 'general', content: 'bob is fine' });
    });
  });
});

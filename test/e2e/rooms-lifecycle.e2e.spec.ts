/**
 * Rooms from creation to leaving (docs/PROTOCOL.md, "Client events"): room:list, room:create,
 * room:join, room:leave and room:invite, with private rooms, owners and invitations. What a
 * join brings back is in recovery-on-join.e2e.spec.ts; a room's messages and history in
 * room-messages-and-history.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { data, expectError, joinOf, leaveOf, roomMarker, SYSTEM, useApp } from '../support/e2e.js';

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
        { id: 'general', name: 'general', members: 2, private: false, lastRead: 0, unread: 0 },
        { id: 'game', name: 'game', members: 0, private: false, lastRead: 0, unread: 0 },
        { id: 'dev', name: 'dev', members: 1, private: false, lastRead: 0, unread: 0 },
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

    const secret = {
      id: 'secret',
      name: 'Secret',
      members: 2,
      private: true,
      lastRead: 0,
      unread: 0,
    };
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
    expect(rooms).toContainEqual(
      expect.objectContaining({ id: 'team-1', name: 'team-1', members: 1, private: false }),
    );
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

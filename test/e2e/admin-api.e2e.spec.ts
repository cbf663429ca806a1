/**
 * The HTTP side of the contract (docs/PROTOCOL.md, "HTTP"): health, readiness, metrics,
 * the snapshot and the admin API a game server drives, with its key and error bodies.
 */
import { describe, expect, it } from '@jest/globals';
import { disconnected, type RunningApp } from '../support/chat-app.js';
import { joinOf, leaveOf, SYSTEM, useApp, withId } from '../support/e2e.js';

const SECRET = 'admin-e2e-secret-long-enough-for-hs256-0123456789';

interface ApiResponse {
  status: number;
  contentType: string;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are asserted field by field
  body: any;
}

/** One HTTP call; a plain object body is sent as JSON, a string as is. */
async function call(
  app: RunningApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json', ...headers };
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`${app.url}${path}`, init);
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  let parsed: unknown;
  if (contentType.includes('json') && text !== '') parsed = JSON.parse(text);
  return { status: res.status, contentType, text, body: parsed };
}

function expectErrorBody(res: ApiResponse, statusCode: number): void {
  expect(res.status).toBe(statusCode);
  expect(res.body).toMatchObject({ statusCode, error: expect.any(String) });
  const message: unknown = res.body?.message;
  const isText = typeof message === 'string';
  const isList = Array.isArray(message) && message.every((m) => typeof m === 'string');
  expect(isText || isList).toBe(true);
}

// ---- health, readiness, metrics --------------------------------------------------------

describe('health endpoints', () => {
  const h = useApp();

  it('should answer GET /health with 200 { status: "ok" }', async () => {
    const res = await call(h.app, 'GET', '/health');

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok' });
  });
});

// ---- snapshot --------------------------------------------------------------------------

describe('GET /api/snapshot', () => {
  const h = useApp();

  it('should list users with their rooms and idle time, and rooms with their members', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', '철수');
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('room:join', { roomId: 'dev' });
    await bob.ok('room:join', { roomId: 'general' });

    const res = await call(h.app, 'GET', '/api/snapshot');

    expect(res.status).toBe(200);
    const { users, rooms } = res.body as {
      users: Array<{ id: string; name: string; rooms: string[]; idleMs: number }>;
      rooms: Array<{ id: string; name: string; members: string[] }>;
    };
    expect(users).toHaveLength(2);
    const a = users.find((u) => u.id === 'alice');
    const b = users.find((u) => u.id === 'bob');
    expect(a).toMatchObject({ name: 'Alice' });
    expect([...(a?.rooms ?? [])].sort()).toEqual(['dev', 'general']);
    expect(b).toMatchObject({ name: '철수', rooms: ['general'] });
    for (const u of users) {
      expect(typeof u.idleMs).toBe('number');
      expect(u.idleMs).toBeGreaterThanOrEqual(0);
    }
    const general = rooms.find((r) => r.id === 'general');
    expect(general?.name).toBe('general');
    expect([...(general?.members ?? [])].sort()).toEqual(['alice', 'bob']);
    expect(rooms.find((r) => r.id === 'dev')).toMatchObject({ name: 'dev', members: ['alice'] });
    expect(rooms.find((r) => r.id === 'game')).toMatchObject({ name: 'game', members: [] });
  });
});

// ---- rooms -----------------------------------------------------------------------------

describe('POST /api/rooms', () => {
  const h = useApp();

  it('should create a room with 201 { room }, name defaulting to the id', async () => {
    const alice = await h.clients.as('alice');

    const plain = await call(h.app, 'POST', '/api/rooms', { id: 'lobby' });
    const named = await call(h.app, 'POST', '/api/rooms', {
      id: 'vip',
      name: ' VIP lounge ',
      private: true,
    });

    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ room: { id: 'lobby', name: 'lobby' } });
    expect(named.status).toBe(201);
    expect(named.body).toMatchObject({ room: { id: 'vip', name: 'VIP lounge', private: true } });
    const { rooms } = await alice.ok('room:list');
    expect(rooms).toContainEqual({ id: 'lobby', name: 'lobby', members: 0, private: false });
    expect(rooms.map((r) => r.id)).not.toContain('vip');
    const joined = await alice.ok('room:join', { roomId: 'lobby' });
    expect(joined.messages.at(-1)).toMatchObject({ type: 'room_join', seq: 1 });
    expect(await alice.request('room:join', { roomId: 'vip' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should answer 409 when the room exists', async () => {
    await call(h.app, 'POST', '/api/rooms', { id: 'lobby' });

    expectErrorBody(await call(h.app, 'POST', '/api/rooms', { id: 'lobby' }), 409);
    expectErrorBody(await call(h.app, 'POST', '/api/rooms', { id: 'general' }), 409);
  });

  it.each([
    ['an empty body', {}],
    ['a bad id', { id: 'bad id' }],
    ['an id of 65 chars', { id: 'r'.repeat(65) }],
    ['a numeric id', { id: 12 }],
    ['a blank name', { id: 'fresh', name: '  ' }],
    ['a non-string name', { id: 'fresh', name: 5 }],
    ['a non-boolean private', { id: 'fresh', private: 'true' }],
    ['a null name', { id: 'fresh', name: null }],
    ['an existing id with a bad name', { id: 'general', name: 7 }],
    ['a JSON array', [{ id: 'fresh' }]],
    ['malformed JSON', '{"id": "fresh",'],
  ])('should answer 400 for %s, before any lookup', async (_label, body) => {
    const res = await call(h.app, 'POST', '/api/rooms', body);

    expectErrorBody(res, 400);
    expect((await call(h.app, 'POST', '/api/rooms', { id: 'fresh' })).status).toBe(201);
  });
});

describe('DELETE /api/rooms/:id', () => {
  const h = useApp();

  it('should close the room with 204 and send room_leave to its members', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'doomed' });
    await bob.ok('room:join', { roomId: 'doomed' });

    const res = await call(h.app, 'DELETE', '/api/rooms/doomed');

    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const [atAlice, atBob] = await Promise.all([
      alice.waitFor(leaveOf('doomed', 'alice')),
      bob.waitFor(leaveOf('doomed', 'bob')),
    ]);
    expect(atAlice).toMatchObject({ sender: SYSTEM, user: { id: 'alice', name: 'Alice' } });
    expect(atBob).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    for (const reply of [
      await alice.request('room:join', { roomId: 'doomed' }),
      await alice.request('room:message', { roomId: 'doomed', content: 'anyone?' }),
    ]) {
      expect(reply).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    }
    expect((await alice.ok('room:list')).rooms.map((r) => r.id)).not.toContain('doomed');
  });

  it('should answer 404 for an unknown room', async () => {
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/nowhere'), 404);
  });

  it('should let a closed room id be created again: seq from 1, no old history, no old rights', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    await alice.ok('room:create', { roomId: 'phoenix', private: true });
    await alice.ok('room:message', { roomId: 'phoenix', content: 'old life' });
    await alice.ok('room:invite', { roomId: 'phoenix', userId: 'carol' });
    expect((await call(h.app, 'DELETE', '/api/rooms/phoenix')).status).toBe(204);
    await alice.waitFor(leaveOf('phoenix', 'alice'));

    const { room } = await bob.ok('room:create', { roomId: 'phoenix', private: true });

    expect(room).toEqual({ id: 'phoenix', name: 'phoenix', private: true });
    const join = await bob.waitFor(joinOf('phoenix', 'bob'));
    expect(join.seq).toBe(1);
    const { messages } = await bob.ok('room:history', { roomId: 'phoenix' });
    expect(messages).toEqual([join]);
    // The old owner and the old invitee have no rights in the new room.
    for (const reply of [
      await alice.request('room:invite', { roomId: 'phoenix', userId: 'dave' }),
      await alice.request('room:join', { roomId: 'phoenix' }),
      await carol.request('room:join', { roomId: 'phoenix' }),
    ]) {
      expect(reply).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    await bob.ok('room:invite', { roomId: 'phoenix', userId: 'alice' });
    const fresh = await alice.ok('room:join', { roomId: 'phoenix', since: 0 });
    expect(fresh.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(fresh.messages.some((m) => m.content === 'old life')).toBe(false);
  });

  it('should never close a default room', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    const res = await call(h.app, 'DELETE', '/api/rooms/general');

    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const { message } = await alice.ok('room:message', {
      roomId: 'general',
      content: 'still open',
    });
    expect(message.seq).toBe(2);
  });
});

// ---- members ---------------------------------------------------------------------------

describe('POST /api/rooms/:id/members', () => {
  const h = useApp();

  it('should make an online user join with 204, also a private room', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'closed', private: true });
    await call(h.app, 'POST', '/api/rooms', { id: 'staff', private: true });

    const intoUserRoom = await call(h.app, 'POST', '/api/rooms/closed/members', { userId: 'bob' });
    const intoAdminRoom = await call(h.app, 'POST', '/api/rooms/staff/members', { userId: 'bob' });

    expect(intoUserRoom.status).toBe(204);
    expect(intoAdminRoom.status).toBe(204);
    const [atAlice, atBob] = await Promise.all([
      alice.waitFor(joinOf('closed', 'bob')),
      bob.waitFor(joinOf('closed', 'bob')),
    ]);
    expect(atAlice).toEqual(atBob);
    expect(atBob).toMatchObject({ seq: 2, sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(await bob.waitFor(joinOf('staff', 'bob'))).toMatchObject({ seq: 1 });
    const { message } = await bob.ok('room:message', { roomId: 'closed', content: 'placed here' });
    await alice.waitFor(withId(message.id));
    const { rooms } = await bob.ok('room:list');
    expect(rooms).toContainEqual({ id: 'staff', name: 'staff', members: 1, private: true });
    // Rooms made through the admin API have no owner.
    expect(await bob.request('room:invite', { roomId: 'staff', userId: 'alice' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should answer 404 for an unknown room or an offline user', async () => {
    await h.clients.as('alice');

    expectErrorBody(
      await call(h.app, 'POST', '/api/rooms/nowhere/members', { userId: 'alice' }),
      404,
    );
    expectErrorBody(
      await call(h.app, 'POST', '/api/rooms/general/members', { userId: 'bob' }),
      404,
    );
  });

  it.each([
    ['an empty body', {}],
    ['a bad user id', { userId: 'b o b' }],
    ['the reserved id', { userId: 'system' }],
    ['a numeric user id', { userId: 1 }],
    ['a null user id', { userId: null }],
    ['malformed JSON', '{"userId":'],
  ])('should answer 400 for %s, before looking up the room or the user', async (_label, body) => {
    expectErrorBody(await call(h.app, 'POST', '/api/rooms/general/members', body), 400);
    expectErrorBody(await call(h.app, 'POST', '/api/rooms/nowhere/members', body), 400);
  });
});

describe('DELETE /api/rooms/:id/members/:userId', () => {
  const h = useApp();

  it('should remove a member with 204 and room_leave to the remaining members and the leaver', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    const res = await call(h.app, 'DELETE', '/api/rooms/general/members/bob');

    expect(res.status).toBe(204);
    const [atAlice, atBob] = await Promise.all([
      alice.waitFor(leaveOf('general', 'bob')),
      bob.waitFor(leaveOf('general', 'bob')),
    ]);
    expect(atAlice).toEqual(atBob);
    expect(atAlice).toMatchObject({ seq: 3, sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(await bob.request('room:message', { roomId: 'general', content: 'hey' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_MEMBER' },
    });
  });

  it('should end an invitation to a private room', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'club', private: true });
    await alice.ok('room:invite', { roomId: 'club', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'club' });

    expect((await call(h.app, 'DELETE', '/api/rooms/club/members/bob')).status).toBe(204);

    await bob.waitFor(leaveOf('club', 'bob'));
    expect(await bob.request('room:join', { roomId: 'club' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should answer 204 for a user who is not a member, online or not, without any event', async () => {
    const alice = await h.clients.as('alice');
    await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });

    expect((await call(h.app, 'DELETE', '/api/rooms/general/members/bob')).status).toBe(204);
    expect((await call(h.app, 'DELETE', '/api/rooms/general/members/ghost')).status).toBe(204);

    const { message } = await alice.ok('room:message', { roomId: 'general', content: 'quiet' });
    expect(message.seq).toBe(2);
  });

  it('should answer 404 for an unknown room', async () => {
    await h.clients.as('alice');

    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/nowhere/members/alice'), 404);
  });
});

// ---- notices ---------------------------------------------------------------------------

describe('POST /api/rooms/:id/notices', () => {
  const h = useApp();

  it('should send a room_notice without seq to every member with 204', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    const content = '  Server restarts at 03:00 — 점검 예정 🛠  ';

    const res = await call(h.app, 'POST', '/api/rooms/general/notices', { content });

    expect(res.status).toBe(204);
    const [atAlice, atBob] = await Promise.all(
      [alice, bob].map((c) => c.waitFor((m) => m.type === 'room_notice' && m.roomId === 'general')),
    );
    expect(atAlice).toEqual(atBob);
    expect(atAlice).toMatchObject({ sender: SYSTEM, roomId: 'general', content });
    for (const key of ['seq', 'user', 'recipient'])
      expect(Object.hasOwn(atAlice ?? {}, key)).toBe(false);
    const { message } = await alice.ok('room:message', {
      roomId: 'general',
      content: 'seq untouched',
    });
    expect(message.seq).toBe(3);
  });

  it('should answer 404 for an unknown room', async () => {
    expectErrorBody(
      await call(h.app, 'POST', '/api/rooms/nowhere/notices', { content: 'hello' }),
      404,
    );
  });

  it.each([
    ['an empty body', {}],
    ['blank content', { content: '   ' }],
    ['content with a NUL', { content: 'a\u0000b' }],
    ['content with a lone surrogate', { content: 'a\ud800b' }],
    ['non-string content', { content: 42 }],
    ['null content', { content: null }],
    ['content over MAX_MESSAGE_LENGTH', { content: 'a'.repeat(2001) }],
  ])('should answer 400 for %s, before looking up the room', async (_label, body) => {
    expectErrorBody(await call(h.app, 'POST', '/api/rooms/general/notices', body), 400);
    expectErrorBody(await call(h.app, 'POST', '/api/rooms/nowhere/notices', body), 400);
  });
});

// ---- users -----------------------------------------------------------------------------

describe('POST /api/users/:id/disconnect', () => {
  const h = useApp();

  it('should close every socket of the user with 204 and tell the others', async () => {
    const alice = await h.clients.as('alice');
    const bob1 = await h.clients.as('bob', 'Bob');
    const bob2 = await h.clients.as('bob', 'Bob');
    await bob1.ok('room:join', { roomId: 'general' });
    await alice.ok('room:join', { roomId: 'general' });

    const res = await call(h.app, 'POST', '/api/users/bob/disconnect');

    expect(res.status).toBe(204);
    await Promise.all([disconnected(bob1), disconnected(bob2)]);
    const gone = await alice.waitFor((m) => m.type === 'user_disconnect' && m.user?.id === 'bob');
    expect(gone).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    await alice.waitFor(leaveOf('general', 'bob'));
    expect((await alice.ok('user:list')).users.map((u) => u.id)).toEqual(['alice']);
  });

  it('should answer 404 when the user is offline', async () => {
    expectErrorBody(await call(h.app, 'POST', '/api/users/nobody/disconnect'), 404);
  });
});

// ---- the admin key ---------------------------------------------------------------------

describe('ADMIN_API_KEY', () => {
  const h = useApp({ ADMIN_API_KEY: 'k3y-for-the-admin-api' });

  it('should answer 401 without the right bearer token', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/snapshot'],
      ['POST', '/api/rooms', { id: 'sneaky' }],
      ['DELETE', '/api/rooms/general/members/alice'],
      ['POST', '/api/rooms/general/notices', { content: 'pwned' }],
      ['POST', '/api/users/alice/disconnect'],
    ];
    const alice = await h.clients.as('alice');

    for (const [method, path, body] of routes) {
      expectErrorBody(await call(h.app, method, path, body), 401);
      expectErrorBody(
        await call(h.app, method, path, body, { authorization: 'Bearer wrong-key' }),
        401,
      );
      expectErrorBody(
        await call(h.app, method, path, body, { authorization: 'k3y-for-the-admin-api' }),
        401,
      );
      expectErrorBody(
        await call(h.app, method, path, body, { authorization: 'Basic k3y-for-the-admin-api' }),
        401,
      );
    }
    expect(alice.socket.connected).toBe(true);
    expect((await alice.ok('room:list')).rooms.map((r) => r.id)).not.toContain('sneaky');
  });

  it('should work with the right bearer token and leave /health open', async () => {
    const auth = { authorization: 'Bearer k3y-for-the-admin-api' };

    expect((await call(h.app, 'GET', '/api/snapshot', undefined, auth)).status).toBe(200);
    expect((await call(h.app, 'POST', '/api/rooms', { id: 'allowed' }, auth)).status).toBe(201);
    expect((await call(h.app, 'GET', '/health')).status).toBe(200);
  });
});

describe('admin API in production without a key', () => {
  const h = useApp({ NODE_ENV: 'production', AUTH_JWT_SECRET: SECRET });

  it('should be closed with 401', async () => {
    expectErrorBody(await call(h.app, 'GET', '/api/snapshot'), 401);
    expectErrorBody(await call(h.app, 'POST', '/api/rooms', { id: 'x' }), 401);
    expect((await call(h.app, 'GET', '/health')).status).toBe(200);
  });
});

// ---- the tutorial's game server --------------------------------------------------------

describe('game server flow', () => {
  const h = useApp();

  it('should let a backend place players in a lobby, then move them to a game room where they chat', async () => {
    const p1 = await h.clients.as('p1', 'Player One');
    const p2 = await h.clients.as('p2', 'Player Two');
    expect((await call(h.app, 'POST', '/api/rooms', { id: 'lobby', name: 'Lobby' })).status).toBe(
      201,
    );

    // OnPlayerConnect: the game server places each connected player in the lobby.
    for (const userId of ['p1', 'p2']) {
      expect((await call(h.app, 'POST', '/api/rooms/lobby/members', { userId })).status).toBe(204);
    }
    await p1.waitFor(joinOf('lobby', 'p2'));
    await p2.waitFor(joinOf('lobby', 'p2'));
    const hello = await p1.ok('room:message', { roomId: 'lobby', content: 'gl hf' });
    await p2.waitFor(withId(hello.message.id));

    // OnMatchStart: a room for the match, the players moved into it.
    const matchRoom = 'game_m42';
    const created = await call(h.app, 'POST', '/api/rooms', { id: matchRoom, private: true });
    expect(created.status).toBe(201);
    for (const userId of ['p1', 'p2']) {
      expect(
        (await call(h.app, 'POST', `/api/rooms/${matchRoom}/members`, { userId })).status,
      ).toBe(204);
      expect((await call(h.app, 'DELETE', `/api/rooms/lobby/members/${userId}`)).status).toBe(204);
    }

    const joins = await p1.waitForCount((m) => m.type === 'room_join' && m.roomId === matchRoom, 2);
    expect(joins.map((m) => [m.seq, m.user?.id])).toEqual([
      [1, 'p1'],
      [2, 'p2'],
    ]);
    await p2.waitFor(joinOf(matchRoom, 'p2'));
    await p1.waitFor(leaveOf('lobby', 'p1'));
    await p2.waitFor(leaveOf('lobby', 'p2'));
    const { message } = await p2.ok('room:message', { roomId: matchRoom, content: 'rush B' });
    expect(await p1.waitFor(withId(message.id))).toMatchObject({
      type: 'room_chat',
      roomId: matchRoom,
      seq: 3,
      sender: { id: 'p2', name: 'Player Two' },
      content: 'rush B',
    });
    const snapshot = await call(h.app, 'GET', '/api/snapshot');
    const room = (snapshot.body.rooms as Array<{ id: string; members: string[] }>).find(
      (r) => r.id === matchRoom,
    );
    expect([...(room?.members ?? [])].sort()).toEqual(['p1', 'p2']);
    const lobby = (snapshot.body.rooms as Array<{ id: string; members: string[] }>).find(
      (r) => r.id === 'lobby',
    );
    expect(lobby?.members).toEqual([]);
    // Match over: the game server closes the room.
    expect((await call(h.app, 'DELETE', `/api/rooms/${matchRoom}`)).status).toBe(204);
    await Promise.all([p1.waitFor(leaveOf(matchRoom, 'p1')), p2.waitFor(leaveOf(matchRoom, 'p2'))]);
  });
});

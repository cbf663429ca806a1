/**
 * The HTTP side of the contract (docs/PROTOCOL.md, "HTTP"): health, readiness, metrics,
 * the snapshot and the admin API a game server drives, with its key and error bodies.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disconnected, startApp, type RunningApp } from '../support/chat-app.js';
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

/** The room ids of the snapshot. */
async function roomIds(app: RunningApp): Promise<string[]> {
  const res = await call(app, 'GET', '/api/snapshot');
  return (res.body.rooms as Array<{ id: string }>).map((r) => r.id);
}

/** Polls the snapshot until `test` holds: no event tells that an empty room closed. */
async function untilRooms(
  app: RunningApp,
  test: (ids: string[]) => boolean,
  timeoutMs = 10_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids = await roomIds(app);
    if (test(ids)) return ids;
    if (Date.now() > deadline) throw new Error(`rooms never matched; last: ${ids.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
    expect(rooms).toContainEqual(
      expect.objectContaining({ id: 'lobby', name: 'lobby', members: 0, private: false }),
    );
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

describe('PUT /api/rooms/:id', () => {
  const h = useApp();

  it('should create a room with 201, then confirm it with 200 while the settings match', async () => {
    const alice = await h.clients.as('alice');
    const settings = { name: ' Match 42 ', private: true, ttlSeconds: 600 };

    const created = await call(h.app, 'PUT', '/api/rooms/game_m42', settings);
    const again = await call(h.app, 'PUT', '/api/rooms/game_m42', settings);
    const withId = await call(h.app, 'PUT', '/api/rooms/game_m42', { ...settings, id: 'game_m42' });

    const room = { id: 'game_m42', name: 'Match 42', private: true, ttlSeconds: 600 };
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ room });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ room });
    expect(withId.status).toBe(200);
    // Confirming changed nothing: one room, still empty, still private.
    expect((await roomIds(h.app)).filter((id) => id === 'game_m42')).toHaveLength(1);
    expect(await alice.request('room:join', { roomId: 'game_m42' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should take defaults from an absent body: name = id, public, no TTL', async () => {
    const created = await call(h.app, 'PUT', '/api/rooms/lobby');
    const again = await call(h.app, 'PUT', '/api/rooms/lobby', {});
    const general = await call(h.app, 'PUT', '/api/rooms/general');

    expect(created.status).toBe(201);
    expect(created.body).toEqual({ room: { id: 'lobby', name: 'lobby', private: false } });
    expect(again.status).toBe(200);
    expect(general.status).toBe(200);
    expect(general.body).toEqual({ room: { id: 'general', name: 'general', private: false } });
  });

  it.each([
    ['another name', { name: 'Other' }],
    ['another private flag', { name: 'Lobby', private: true }],
    ['a TTL it does not have', { name: 'Lobby', ttlSeconds: 60 }],
  ])('should answer 409 for %s, and leave the room as it was', async (_label, body) => {
    await call(h.app, 'PUT', '/api/rooms/lobby', { name: 'Lobby' });

    const res = await call(h.app, 'PUT', '/api/rooms/lobby', body);

    expectErrorBody(res, 409);
    expect(res.body.message).toMatch(/other settings/);
    expect((await call(h.app, 'PUT', '/api/rooms/lobby', { name: 'Lobby' })).status).toBe(200);
  });

  it('should answer 409 for a room a user made (it has an owner), and for a default room with a TTL', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'mine' });

    expectErrorBody(await call(h.app, 'PUT', '/api/rooms/mine'), 409);
    expectErrorBody(await call(h.app, 'PUT', '/api/rooms/general', { ttlSeconds: 5 }), 409);
  });

  it.each([
    ['a bad path id', '/api/rooms/bad%20id', {}],
    ['another id in the body', '/api/rooms/lobby', { id: 'other' }],
    ['a blank name', '/api/rooms/lobby', { name: ' ' }],
    ['a non-boolean private', '/api/rooms/lobby', { private: 1 }],
    ['a zero TTL', '/api/rooms/lobby', { ttlSeconds: 0 }],
    ['a fractional TTL', '/api/rooms/lobby', { ttlSeconds: 1.5 }],
    ['a string TTL', '/api/rooms/lobby', { ttlSeconds: '60' }],
    ['a TTL over a week', '/api/rooms/lobby', { ttlSeconds: 604_801 }],
    ['a null TTL', '/api/rooms/lobby', { ttlSeconds: null }],
    ['a JSON array', '/api/rooms/lobby', []],
    ['malformed JSON', '/api/rooms/lobby', '{"name":'],
    ['a bad body for an existing room', '/api/rooms/general', { private: 'no' }],
  ])('should answer 400 for %s, before any lookup', async (_label, path, body) => {
    expectErrorBody(await call(h.app, 'PUT', path, body), 400);
    expect(await roomIds(h.app)).not.toContain('lobby');
  });
});

describe('rooms with ttlSeconds', () => {
  const h = useApp();

  it('should show the TTL and refuse a bad one on POST /api/rooms', async () => {
    const res = await call(h.app, 'POST', '/api/rooms', { id: 'brief', ttlSeconds: 30 });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      room: { id: 'brief', name: 'brief', private: false, ttlSeconds: 30 },
    });
    expectErrorBody(await call(h.app, 'POST', '/api/rooms', { id: 'x', ttlSeconds: -1 }), 400);
  });

  it('should close a room once empty for its TTL, never while someone is in it, then let it be made again', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    // Made together: when the empty probe has closed, the occupied room has lived its TTL too.
    // Occupied first, then the probe made: 3 s leaves room for a slow machine before the join.
    expect((await call(h.app, 'PUT', '/api/rooms/occupied', { ttlSeconds: 3 })).status).toBe(201);
    expect(
      (await call(h.app, 'POST', '/api/rooms/occupied/members', { userId: 'alice' })).status,
    ).toBe(204);
    await bob.ok('room:join', { roomId: 'occupied' });
    expect((await call(h.app, 'PUT', '/api/rooms/probe', { ttlSeconds: 3 })).status).toBe(201);

    await untilRooms(h.app, (ids) => !ids.includes('probe'));

    expect(await roomIds(h.app)).toContain('occupied');
    // The last one out starts the countdown; members were told nothing more than their leaves.
    await bob.ok('room:leave', { roomId: 'occupied' });
    expect((await call(h.app, 'DELETE', '/api/rooms/occupied/members/alice')).status).toBe(204);
    await alice.waitFor(leaveOf('occupied', 'alice'));
    const ids = await untilRooms(h.app, (list) => !list.includes('occupied'));
    expect(ids).toEqual(expect.arrayContaining(['general', 'game', 'dev']));
    expect(await alice.request('room:join', { roomId: 'occupied' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(
      alice.received.filter((m) => m.roomId === 'occupied').map((m) => [m.type, m.user?.id]),
    ).toEqual([
      ['room_join', 'alice'],
      ['room_join', 'bob'],
      ['room_leave', 'bob'],
      ['room_leave', 'alice'],
    ]);
    // Closed as DELETE closes: the id starts afresh.
    expect((await call(h.app, 'PUT', '/api/rooms/occupied', { ttlSeconds: 1 })).status).toBe(201);
    expect((await alice.ok('room:join', { roomId: 'occupied' })).messages).toEqual([
      expect.objectContaining({ type: 'room_join', seq: 1 }),
    ]);
  });
});

describe('rooms with ttlSeconds across a restart', () => {
  let dataDir: string | undefined;
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('should start the countdown of every TTL room at start, as rooms start empty', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-ttl-'));
    const env = { STORE: 'sqlite', DATA_DIR: dataDir, SQLITE_SYNCHRONOUS: 'normal' };
    app = await startApp(env);
    expect((await call(app, 'PUT', '/api/rooms/short', { ttlSeconds: 5 })).status).toBe(201);
    expect((await call(app, 'PUT', '/api/rooms/lasting')).status).toBe(201);
    await app.close();

    app = await startApp(env);

    expect(await roomIds(app)).toEqual(expect.arrayContaining(['short', 'lasting']));
    expect((await call(app, 'PUT', '/api/rooms/short', { ttlSeconds: 5 })).status).toBe(200);
    const ids = await untilRooms(app, (list) => !list.includes('short'));
    expect(ids).toContain('lasting');
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
    expect(rooms).toContainEqual(
      expect.objectContaining({ id: 'staff', name: 'staff', members: 1, private: true }),
    );
    // Rooms made through the admin API have no owner.
    expect(await bob.request('room:invite', { roomId: 'staff', userId: 'alice' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should answer 204 again for a user already placed, with no second room_join', async () => {
    const alice = await h.clients.as('alice');
    await call(h.app, 'PUT', '/api/rooms/lobby');

    for (let i = 0; i < 3; i++) {
      expect(
        (await call(h.app, 'POST', '/api/rooms/lobby/members', { userId: 'alice' })).status,
      ).toBe(204);
    }

    const { message } = await alice.ok('room:message', { roomId: 'lobby', content: 'once' });
    await alice.waitFor(withId(message.id));
    expect(alice.received.filter((m) => m.roomId === 'lobby').map((m) => m.type)).toEqual([
      'room_join',
      'room_chat',
    ]);
    expect(message.seq).toBe(2);
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
      ['PUT', '/api/rooms/sneaky', {}],
      ['DELETE', '/api/rooms/game'],
      ['POST', '/api/rooms/general/members', { userId: 'alice' }],
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

// ---- the OpenAPI document ----------------------------------------------------------------

describe('OpenAPI document', () => {
  const h = useApp({ ADMIN_API_KEY: 'k3y-for-the-admin-api' });
  const routes = [
    ['get', '/api/snapshot'],
    ['post', '/api/rooms'],
    ['put', '/api/rooms/{id}'],
    ['delete', '/api/rooms/{id}'],
    ['post', '/api/rooms/{id}/members'],
    ['delete', '/api/rooms/{id}/members/{userId}'],
    ['post', '/api/rooms/{id}/notices'],
    ['post', '/api/users/{id}/disconnect'],
    ['delete', '/api/rooms/{id}/messages/{seq}'],
  ];

  it('should serve the UI at /docs without the admin key', async () => {
    const res = await call(h.app, 'GET', '/docs');

    expect(res.status).toBe(200);
    expect(res.contentType).toContain('text/html');
    expect(res.text).toContain('swagger');
  });

  it('should serve the UI its files, the document as YAML, and 404 for what is not there', async () => {
    const css = await call(h.app, 'GET', '/docs/swagger-ui.css');
    const init = await call(h.app, 'GET', '/docs/swagger-ui-init.js');
    const yaml = await call(h.app, 'GET', '/docs-yaml');
    const missing = await call(h.app, 'GET', '/docs/no-such-file.js');

    expect(css.status).toBe(200);
    expect(css.contentType).toContain('text/css');
    expect(init.status).toBe(200);
    expect(init.text).toContain('/api/rooms/{id}/members');
    expect(yaml.status).toBe(200);
    expect(yaml.text).toMatch(/^openapi: 3\./);
    expect(missing.status).toBe(404);
  });

  it('should describe every admin route, its body, answers and the Bearer ADMIN_API_KEY', async () => {
    const res = await call(h.app, 'GET', '/docs-json');

    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.adminApiKey).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => [method, path]))
      .sort();
    expect(documented).toEqual([...routes].sort());
    for (const [method, path] of routes) {
      const op = doc.paths[path][method];
      expect(op.summary).toEqual(expect.any(String));
      expect(op.security).toEqual([{ adminApiKey: [] }]);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401']));
      expect(Object.keys(op.responses).some((code) => code.startsWith('2'))).toBe(true);
      for (const param of path.match(/\{\w+\}/g) ?? []) {
        expect(op.parameters.map((p: { name: string }) => p.name)).toContain(param.slice(1, -1));
      }
      if (method === 'post' || method === 'put') {
        const hasBody = path !== '/api/users/{id}/disconnect';
        expect(op.requestBody !== undefined).toBe(hasBody);
      }
    }
    expect(doc.paths['/api/rooms/{id}'].put.responses).toMatchObject({
      200: expect.anything(),
      201: expect.anything(),
      409: expect.anything(),
    });
    // Every reference resolves.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(doc.components.schemas[ref.split('/').at(-1) as string]).toBeDefined();
    }
    expect(doc.components.schemas.RoomSettings.properties.ttlSeconds).toMatchObject({
      type: 'integer',
      minimum: 1,
    });
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

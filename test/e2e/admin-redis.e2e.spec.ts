/**
 * With REDIS_URL: the admin commands over Nest's Redis transport (a hybrid app), driven by a
 * plain Transport.REDIS ClientProxy, and the socket.io Redis adapter carrying broadcasts
 * between instances. Against the real Redis (TEST_REDIS_URL, default 127.0.0.1:6379), each
 * run on channels of its own (REDIS_PREFIX); skipped loudly when Redis is unreachable.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { createServer } from 'node:net';
import { firstValueFrom, timeout } from 'rxjs';
import { ADMIN_PATTERNS, type AdminReply } from '../../src/admin/admin.patterns.js';
import { RedisConnectError, RedisConnection } from '../../src/redis/redis.connection.js';
import { redisOptionsFromUrl } from '../../src/redis/redis.options.js';
import { Clients, disconnected, startApp, type RunningApp } from '../support/chat-app.js';
import { connectOf, joinOf, leaveOf, SYSTEM, useApp } from '../support/e2e.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';

const redisUp = await serviceAvailable('redis');
const describeRedis = redisUp ? describe : describe.skip;

/** Channels no other run uses: pub/sub ignores the database number, so a prefix it is. */
const PREFIX = `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
const REDIS_ENV = { REDIS_URL, REDIS_PREFIX: PREFIX };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are asserted field by field
type Reply = AdminReply<Record<string, any>>;

describeRedis('admin commands over Redis', () => {
  const h = useApp(REDIS_ENV);
  let client: ClientProxy;

  beforeEach(async () => {
    client = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: redisOptionsFromUrl(REDIS_URL),
    });
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
  });

  /** One command: the pattern as documented, prefixed with REDIS_PREFIX on the wire. */
  function send(pattern: string, payload: unknown = {}): Promise<Reply> {
    return firstValueFrom(client.send<Reply>(`${PREFIX}${pattern}`, payload).pipe(timeout(5000)));
  }

  const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } });

  it('should answer snapshot with the online users and every room', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    await alice.ok('room:join', { roomId: 'general' });

    const reply = await send(ADMIN_PATTERNS.snapshot);

    expect(reply).toMatchObject({
      ok: true,
      users: [{ id: 'alice', name: 'Alice', rooms: ['general'], idleMs: expect.any(Number) }],
    });
    expect(reply.ok && reply.rooms).toContainEqual({
      id: 'general',
      name: 'general',
      members: ['alice'],
    });
  });

  it('should create or confirm a room with rooms.put, safe to retry, and refuse other settings', async () => {
    const settings = { id: 'game_m7', name: 'Match 7', private: true, ttlSeconds: 300 };
    const room = { id: 'game_m7', name: 'Match 7', private: true, ttlSeconds: 300 };

    expect(await send(ADMIN_PATTERNS.putRoom, settings)).toEqual({ ok: true, created: true, room });
    expect(await send(ADMIN_PATTERNS.putRoom, settings)).toEqual({
      ok: true,
      created: false,
      room,
    });
    expect(await send(ADMIN_PATTERNS.putRoom, { ...settings, private: false })).toMatchObject(
      refused('ALREADY_EXISTS'),
    );
    expect(await send(ADMIN_PATTERNS.createRoom, { id: 'game_m7' })).toMatchObject(
      refused('ALREADY_EXISTS'),
    );
    expect(await send(ADMIN_PATTERNS.createRoom, { id: 'lobby' })).toEqual({
      ok: true,
      room: { id: 'lobby', name: 'lobby', private: false },
    });
    // The HTTP API sees the same rooms: one service behind both.
    const res = await fetch(`${h.app.url}/api/rooms/game_m7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(settings),
    });
    expect(res.status).toBe(200);
  });

  it.each([
    [ADMIN_PATTERNS.putRoom, { id: 'bad id' }],
    [ADMIN_PATTERNS.putRoom, { id: 'general', ttlSeconds: 0 }],
    [ADMIN_PATTERNS.createRoom, 'lobby'],
    [ADMIN_PATTERNS.deleteRoom, { roomId: 7 }],
    [ADMIN_PATTERNS.addMember, { roomId: 'nowhere', userId: 'system' }],
    [ADMIN_PATTERNS.removeMember, { roomId: 'nowhere' }],
    [ADMIN_PATTERNS.notice, { roomId: 'nowhere', content: '   ' }],
    [ADMIN_PATTERNS.disconnectUser, { userId: null }],
  ])('should answer %s %j with INVALID_PAYLOAD, before any lookup', async (pattern, payload) => {
    expect(await send(pattern, payload)).toMatchObject(refused('INVALID_PAYLOAD'));
  });

  it('should place a user with rooms.members.add (again is no error) and remove it with rooms.members.remove', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await send(ADMIN_PATTERNS.putRoom, { id: 'lobby' });

    expect(await send(ADMIN_PATTERNS.addMember, { roomId: 'lobby', userId: 'alice' })).toEqual({
      ok: true,
    });
    expect(await send(ADMIN_PATTERNS.addMember, { roomId: 'lobby', userId: 'alice' })).toEqual({
      ok: true,
    });
    expect(await send(ADMIN_PATTERNS.addMember, { roomId: 'lobby', userId: 'bob' })).toEqual({
      ok: true,
    });
    expect(await send(ADMIN_PATTERNS.removeMember, { roomId: 'lobby', userId: 'bob' })).toEqual({
      ok: true,
    });
    expect(await send(ADMIN_PATTERNS.removeMember, { roomId: 'lobby', userId: 'bob' })).toEqual({
      ok: true,
    });

    const leave = await alice.waitFor(leaveOf('lobby', 'bob'));
    expect(leave).toMatchObject({ seq: 3, sender: SYSTEM });
    expect(alice.received.filter((m) => m.roomId === 'lobby').map((m) => m.seq)).toEqual([1, 2, 3]);
    await bob.waitFor(joinOf('lobby', 'bob'));
    expect(
      await send(ADMIN_PATTERNS.addMember, { roomId: 'lobby', userId: 'carol' }),
    ).toMatchObject(refused('USER_OFFLINE'));
    expect(
      await send(ADMIN_PATTERNS.addMember, { roomId: 'nowhere', userId: 'alice' }),
    ).toMatchObject(refused('NOT_FOUND'));
  });

  it('should send a room_notice with rooms.notice and close rooms with rooms.delete', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'doomed' });

    expect(
      await send(ADMIN_PATTERNS.notice, { roomId: 'doomed', content: 'closing soon' }),
    ).toEqual({ ok: true });
    expect(await send(ADMIN_PATTERNS.deleteRoom, { roomId: 'doomed' })).toEqual({ ok: true });

    const notice = await alice.waitFor((m) => m.type === 'room_notice');
    expect(notice).toMatchObject({ roomId: 'doomed', content: 'closing soon', sender: SYSTEM });
    await alice.waitFor(leaveOf('doomed', 'alice'));
    expect(await send(ADMIN_PATTERNS.deleteRoom, { roomId: 'doomed' })).toMatchObject(
      refused('NOT_FOUND'),
    );
    expect(await send(ADMIN_PATTERNS.deleteRoom, { roomId: 'general' })).toMatchObject(
      refused('FORBIDDEN'),
    );
  });

  it('should delete a message with rooms.messages.delete, as a room_delete by system', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const { message } = await alice.ok('room:message', { roomId: 'general', content: 'oops' });

    expect(
      await send(ADMIN_PATTERNS.deleteMessage, { roomId: 'general', seq: message.seq }),
    ).toEqual({ ok: true });

    expect(await alice.waitFor((m) => m.type === 'room_delete')).toMatchObject({
      roomId: 'general',
      target: message.seq,
      sender: SYSTEM,
      content: '',
    });
    const { messages } = await alice.ok('room:history', { roomId: 'general' });
    expect(messages.find((m) => m.seq === message.seq)).toMatchObject({ deleted: true });
    expect(
      await send(ADMIN_PATTERNS.deleteMessage, { roomId: 'general', seq: message.seq }),
    ).toMatchObject(refused('NOT_FOUND'));
    expect(await send(ADMIN_PATTERNS.deleteMessage, { roomId: 'general', seq: 0 })).toMatchObject(
      refused('INVALID_PAYLOAD'),
    );
    expect(await send(ADMIN_PATTERNS.deleteMessage, { roomId: 'nowhere', seq: 1 })).toMatchObject(
      refused('NOT_FOUND'),
    );
  });

  it('should share its Redis connection, which answers a ping (for readiness)', async () => {
    const redis = h.app.app.get(RedisConnection);

    expect(redis.enabled).toBe(true);
    await expect(redis.ping()).resolves.toBeUndefined();
  });

  it('should close every socket of a user with users.disconnect', async () => {
    const bob = await h.clients.as('bob');

    expect(await send(ADMIN_PATTERNS.disconnectUser, { userId: 'bob' })).toEqual({ ok: true });

    await disconnected(bob);
    expect(await send(ADMIN_PATTERNS.disconnectUser, { userId: 'nobody' })).toMatchObject(
      refused('USER_OFFLINE'),
    );
  });
});

describeRedis('socket.io Redis adapter', () => {
  const apps: RunningApp[] = [];
  const clients: Clients[] = [];

  async function instance(env: Record<string, string>): Promise<Clients> {
    const app = await startApp(env);
    apps.push(app);
    const tracker = new Clients(() => app.url);
    clients.push(tracker);
    return tracker;
  }

  afterEach(async () => {
    for (const tracker of clients.splice(0)) tracker.closeAll();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  it('should carry broadcasts to the sockets of the other instances on the same prefix', async () => {
    const a = await instance(REDIS_ENV);
    const b = await instance(REDIS_ENV);
    const elsewhere = await instance({ ...REDIS_ENV, REDIS_PREFIX: `${PREFIX}other:` });
    const bob = await b.as('bob');
    const carol = await elsewhere.as('carol');

    await a.as('alice', 'Alice');

    // user_connect goes to everyone: sent by instance A, received on instance B.
    expect(await bob.waitFor(connectOf('alice'))).toMatchObject({
      type: 'user_connect',
      user: { id: 'alice', name: 'Alice' },
    });
    expect(carol.received.some(connectOf('alice'))).toBe(false);
  });

  it('should tell only its own clients when one instance shuts down', async () => {
    const a = await instance(REDIS_ENV);
    const b = await instance(REDIS_ENV);
    const alice = await a.as('alice');
    const bob = await b.as('bob');
    const aliceGone = disconnected(alice);

    const [first] = apps.splice(0, 1);
    await first.close();
    await aliceGone;
    expect(alice.events('server:shutdown')).toHaveLength(1);
    // Bob's instance goes on: a round trip through it arrives after any notice would have.
    await bob.ok('private:message', { to: 'bob', content: 'still here' });
    expect(bob.events('server:shutdown')).toHaveLength(0);
  });
});

describe('REDIS_URL unreachable at start', () => {
  it('should refuse to start with one clear error, after trying for 10 s', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });

    const started = startApp({ REDIS_URL: `redis://:secret@127.0.0.1:${port}` });

    // Nothing listens there: the start tries again until its 10 s are up, then gives up.
    await expect(started).rejects.toBeInstanceOf(RedisConnectError);
    await expect(started).rejects.toThrow(
      /^REDIS_URL: cannot connect to redis:\/\/:\*\*\*@127.0.0.1:\d+\/? within 10 s: connect ECONNREFUSED/,
    );
  });
});

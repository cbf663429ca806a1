/**
 * What a cluster does by itself, on timers: room heartbeats, rooms that close once empty,
 * idle timeouts, the default rooms when every instance starts at once on an empty database,
 * and the admin commands over Redis, each once however many instances hear it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { TestCluster } from '../support/cluster.js';
import { connectOf, joinOf, withId } from '../support/e2e.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { disconnected } from '../support/chat-app.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

describeCluster('a cluster on its own timers', () => {
  // Three instances started at once on an empty schema.
  const cluster = new TestCluster({
    instances: 3,
    env: {
      ROOM_NOTICE_INTERVAL_MS: '600',
      IDLE_TIMEOUT_MS: '1500',
      CLUSTER_LEASE_MS: '1500',
    },
  });

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.stop();
  }, 30_000);

  it('should serve the default rooms on every instance, also when all started at once', async () => {
    const users = await Promise.all([0, 1, 2].map((i) => cluster.clients[i].as(`d-${i}`)));
    for (const user of users) await user.ok('room:join', { roomId: 'general' });
    const { message } = await users[2].ok('room:message', { roomId: 'general', content: 'hi' });
    for (const user of users) await user.waitFor(withId(message.id));
    for (const user of users) user.close();
  });

  it('should send one heartbeat per interval to a room, with the count of members everywhere', async () => {
    const x = await cluster.clients[0].as('h-x');
    const y = await cluster.clients[1].as('h-y');
    const z = await cluster.clients[2].as('h-z');
    await x.ok('room:create', { roomId: 'beat' });
    for (const member of [y, z]) await member.ok('room:join', { roomId: 'beat' });
    const notices = (m: { type: string; roomId?: string; content: string }) =>
      m.type === 'room_notice' && m.roomId === 'beat' && m.content.startsWith('3 members');
    const started = Date.now();
    await z.waitForCount(notices, 3, 5000);
    const elapsed = Date.now() - started;
    const got = z.received.filter(notices).length;
    // One heartbeat an interval (600 ms), not one per instance.
    expect(got).toBeLessThanOrEqual(Math.ceil(elapsed / 600) + 1);
    for (const client of [x, y, z]) client.close();
  });

  it('should close a room with a TTL once, when it is empty on every instance', async () => {
    const created = await fetch(`${cluster.url(1)}/api/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ttl-room', ttlSeconds: 1 }),
    });
    expect(created.status).toBe(201);
    const guest = await cluster.clients[2].as('ttl-guest');
    await guest.ok('room:join', { roomId: 'ttl-room' });
    // Not closed while someone is in it, whichever instance that someone is on (who stays
    // active meanwhile: IDLE_TIMEOUT_MS is short here).
    for (let i = 0; i < 5; i++) {
      await guest.ok('user:list');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await expect(
      guest.ok('room:message', { roomId: 'ttl-room', content: 'still' }),
    ).resolves.toBeDefined();
    await guest.ok('room:leave', { roomId: 'ttl-room' });
    // Looked at from another instance, without joining (a join would keep it open).
    await waitUntil(async () => {
      const snapshot = (await (await fetch(`${cluster.url(0)}/api/snapshot`)).json()) as {
        rooms: Array<{ id: string }>;
      };
      return !snapshot.rooms.some((room) => room.id === 'ttl-room');
    }, 5000);
    expect(await guest.request('room:join', { roomId: 'ttl-room' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    guest.close();
  });

  it('should not disconnect a user idle on one instance while it is active on another', async () => {
    const busy = await cluster.clients[0].as('i-una');
    const quiet = await cluster.clients[1].as('i-una');
    // Active on the first instance past the idle timeout of the second.
    for (let i = 0; i < 8; i++) {
      await busy.ok('user:list');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(quiet.socket.connected).toBe(true);
    // Quiet everywhere: idle everywhere.
    await disconnected(busy, 6000);
    await disconnected(quiet, 6000);
  }, 20_000);

  it('should run each admin command over Redis once, with one reply', async () => {
    const watcher = await cluster.clients[0].as('a-watch');
    await watcher.ok('room:join', { roomId: 'general' });
    const client = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: { ...redisOptions(), retryAttempts: 0 },
    });
    try {
      await client.connect();
      const reply = await firstValueFrom(
        client.send(`${cluster.prefix}rooms.notice`, { roomId: 'general', content: 'once' }),
      );
      expect(reply).toEqual({ ok: true });
      await watcher.waitFor((m) => m.type === 'room_notice' && m.content === 'once');
      const marker = await watcher.ok('room:message', { roomId: 'general', content: 'marker' });
      await watcher.waitFor(withId(marker.message.id));
      expect(watcher.received.filter((m) => m.content === 'once')).toHaveLength(1);
    } finally {
      await client.close();
      watcher.close();
    }
  });

  it('should tell every instance of a user’s connect once, to everyone', async () => {
    const watchers = await Promise.all([0, 1, 2].map((i) => cluster.clients[i].as(`w-${i}`)));
    await cluster.clients[1].as('w-new');
    for (const watcher of watchers) await watcher.waitFor(connectOf('w-new'));
    const other = await watchers[0].ok('room:create', { roomId: 'w-room' });
    expect(other.room.id).toBe('w-room');
    await watchers[2].ok('room:join', { roomId: 'w-room' });
    await watchers[0].waitFor(joinOf('w-room', 'w-2'));
    for (const watcher of watchers) {
      expect(watcher.received.filter(connectOf('w-new'))).toHaveLength(1);
    }
  });
});

function redisOptions(): { host: string; port: number } {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

/** Polls an outcome that no event announces (a room closing by itself). */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

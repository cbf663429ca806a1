/**
 * The server's limits and owner moderation (room:kick, room:mute): the send rate, rooms per
 * user, members per room, sockets per user, new connections per address, browser origins and
 * slow consumers. Each limit is set small here (the send rate also at its default); the
 * defaults are in the README. Join, leave and invitation floods are in churn-floods.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import type { ChatMessage } from '../../src/contract/events.js';
import { disconnected, type TestClient } from '../support/chat-app.js';
import { expectError, joinOf, leaveOf, useApp, withId } from '../support/e2e.js';

const noticeIn = (roomId: string, text: string) => (m: ChatMessage) =>
  m.type === 'room_notice' && m.roomId === roomId && m.content.includes(text);

async function errorCode(client: TestClient, event: string, payload: unknown): Promise<string> {
  const reply = await client.request(event as 'room:join', payload);
  if (reply.ok) throw new Error(`${event} succeeded, expected an error`);
  return reply.error.code;
}

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

describe('room:kick', () => {
  const h = useApp();

  it('should remove the user with room_leave and keep it out of a private room', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'den', private: true });
    await alice.ok('room:invite', { roomId: 'den', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'den' });

    await alice.ok('room:kick', { roomId: 'den', userId: 'bob' });

    const [atBob, atAlice] = await Promise.all([
      bob.waitFor(leaveOf('den', 'bob')),
      alice.waitFor(leaveOf('den', 'bob')),
    ]);
    expect(atBob.id).toBe(atAlice.id);
    expect(atBob.content).toContain('kicked');
    expect(await errorCode(bob, 'room:join', { roomId: 'den' })).toBe('FORBIDDEN');
    expect(await errorCode(bob, 'room:message', { roomId: 'den', content: 'hi' })).toBe(
      'NOT_MEMBER',
    );
    // A new invitation lets the user back in.
    await alice.ok('room:invite', { roomId: 'den', userId: 'bob' });
    await bob.ok('room:join', { roomId: 'den' });
  });

  it('should let a kicked user join a public room again', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'plaza' });
    await bob.ok('room:join', { roomId: 'plaza' });
    await alice.ok('room:kick', { roomId: 'plaza', userId: 'bob' });
    await bob.waitFor(leaveOf('plaza', 'bob'));
    await bob.ok('room:join', { roomId: 'plaza' });
  });

  it('should refuse anyone but the owner, the owner itself, and unknown rooms', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'den' });
    await bob.ok('room:join', { roomId: 'den' });
    expect(await errorCode(bob, 'room:kick', { roomId: 'den', userId: 'alice' })).toBe('FORBIDDEN');
    expect(await errorCode(alice, 'room:kick', { roomId: 'den', userId: 'alice' })).toBe(
      'FORBIDDEN',
    );
    expect(await errorCode(alice, 'room:kick', { roomId: 'nowhere', userId: 'bob' })).toBe(
      'NOT_FOUND',
    );
    expect(await errorCode(alice, 'room:kick', { roomId: 'den' })).toBe('INVALID_PAYLOAD');
    // Nobody was removed by any of it.
    const { room } = await bob.ok('room:join', { roomId: 'den' });
    expect(room.members.map((m) => m.id).sort()).toEqual(['alice', 'bob']);
  });
});

describe('room:mute', () => {
  const h = useApp();

  it('should answer FORBIDDEN to a muted member until the owner lifts it', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'den' });
    await bob.ok('room:join', { roomId: 'den' });

    const { mutedUntil } = await alice.ok('room:mute', {
      roomId: 'den',
      userId: 'bob',
      seconds: 600,
    });
    expect(Date.parse(mutedUntil as string)).toBeGreaterThan(Date.now() + 590_000);
    await bob.waitFor(noticeIn('den', 'muted'));
    expect(await errorCode(bob, 'room:message', { roomId: 'den', content: 'let me talk' })).toBe(
      'FORBIDDEN',
    );
    // Others still talk, and bob still hears them.
    const { message } = await alice.ok('room:message', { roomId: 'den', content: 'quiet' });
    await bob.waitFor(withId(message.id));

    expect(await alice.ok('room:mute', { roomId: 'den', userId: 'bob', seconds: 0 })).toEqual({
      ok: true,
    });
    await bob.ok('room:message', { roomId: 'den', content: 'thanks' });
  });

  it('should refuse anyone but the owner and bad durations', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'den' });
    await bob.ok('room:join', { roomId: 'den' });
    expect(await errorCode(bob, 'room:mute', { roomId: 'den', userId: 'alice', seconds: 60 })).toBe(
      'FORBIDDEN',
    );
    expect(
      await errorCode(alice, 'room:mute', { roomId: 'den', userId: 'stranger', seconds: 60 }),
    ).toBe('FORBIDDEN');
    for (const seconds of [-1, 1.5, '60', 366 * 24 * 3600]) {
      expect(await errorCode(alice, 'room:mute', { roomId: 'den', userId: 'bob', seconds })).toBe(
        'INVALID_PAYLOAD',
      );
    }
    await bob.ok('room:message', { roomId: 'den', content: 'not muted' });
  });
});

describe('moderation and the send rate', () => {
  const h = useApp({ RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_SECOND: '1' });

  it('should rate-limit kicks and mutes (each reaches every member), apart from messages', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'den' });
    await bob.ok('room:join', { roomId: 'den' });
    const replies = [];
    for (let i = 0; i < 5; i++) {
      replies.push(
        await alice.request('room:mute', { roomId: 'den', userId: 'bob', seconds: i % 2 }),
      );
    }
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
    // The message burst is untouched by moderating.
    for (let i = 0; i < 3; i++) await alice.ok('room:message', { roomId: 'den', content: `m${i}` });
  });
});

describe('MAX_ROOMS_PER_USER', () => {
  const h = useApp({ MAX_ROOMS_PER_USER: '2' });

  it('should refuse a join or create past the limit until the user leaves one', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('room:create', { roomId: 'mine' });
    expect(await errorCode(alice, 'room:join', { roomId: 'game' })).toBe('FORBIDDEN');
    expect(await errorCode(alice, 'room:create', { roomId: 'another' })).toBe('FORBIDDEN');
    expect(await errorCode(alice, 'room:join', { roomId: 'nowhere' })).toBe('NOT_FOUND');
    // Joining a room one is already in is not a new room.
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('room:leave', { roomId: 'general' });
    await alice.ok('room:join', { roomId: 'game' });
  });

  it('should also bound the rooms a user owns: leaving them does not make room for more', async () => {
    const alice = await h.clients.as('alice');
    for (const roomId of ['a1', 'a2']) {
      await alice.ok('room:create', { roomId });
      await alice.ok('room:leave', { roomId });
    }
    expect(await errorCode(alice, 'room:create', { roomId: 'a3' })).toBe('FORBIDDEN');
    // Closing one (admin API) gives the slot back.
    const closed = await fetch(`${h.app.url}/api/rooms/a1`, { method: 'DELETE' });
    expect(closed.status).toBe(204);
    await alice.ok('room:create', { roomId: 'a3' });
  });
});

describe('MAX_MEMBERS_PER_ROOM', () => {
  const h = useApp({ MAX_MEMBERS_PER_ROOM: '2' });

  it('should refuse a join to a full room, but let the admin API place a player', async () => {
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map((id) => h.clients.as(id)),
    );
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    expect(await errorCode(carol, 'room:join', { roomId: 'general' })).toBe('FORBIDDEN');

    const placed = await fetch(`${h.app.url}/api/rooms/general/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'carol' }),
    });
    expect(placed.status).toBe(204);
    await alice.waitFor(joinOf('general', 'carol'));
  });
});

describe('MAX_SOCKETS_PER_USER', () => {
  const h = useApp({ MAX_SOCKETS_PER_USER: '2' });

  it('should refuse a third socket with TOO_MANY_SOCKETS, and take one once a tab closes', async () => {
    const tab1 = await h.clients.as('alice');
    await h.clients.as('alice');
    expect(await h.clients.refused({ userId: 'alice' })).toBe('TOO_MANY_SOCKETS');
    // Other users are not affected.
    await h.clients.as('bob');
    tab1.close();
    await disconnected(tab1);
    const tab3 = await h.clients.as('alice');
    expect((await tab3.ok('user:list')).users.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
  });
});

describe('MAX_SOCKETS_PER_USER with racing handshakes (JWT: verification is async)', () => {
  const SECRET = 'limits-e2e-secret-long-enough-for-hs256-0123456';
  const h = useApp({ MAX_SOCKETS_PER_USER: '2', AUTH_JWT_SECRET: SECRET });

  it('should let only the allowed number through', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    const attempts = await Promise.allSettled(
      Array.from({ length: 8 }, () => h.clients.connect({ token })),
    );
    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(attempts.length - refused.length).toBe(2);
    for (const r of refused) expect((r.reason as Error).message).toBe('TOO_MANY_SOCKETS');
  });
});

describe('CONNECT_RATE_PER_IP (a connection storm on loopback)', () => {
  const h = useApp({ CONNECT_RATE_PER_IP: '6', CONNECT_RATE_WINDOW_MS: '60000' });

  it('should refuse connections past the rate with RATE_LIMITED while a bystander chats', async () => {
    const bystander = await h.clients.as('bystander');
    const friend = await h.clients.as('friend');
    await bystander.ok('room:join', { roomId: 'general' });
    await friend.ok('room:join', { roomId: 'general' });

    const storm = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => h.clients.as(`storm${i}`)),
    );
    const refused = storm.filter((r) => r.status === 'rejected');
    expect(storm.length - refused.length).toBe(4);
    for (const r of refused) expect((r.reason as Error).message).toBe('RATE_LIMITED');

    const { message } = await bystander.ok('room:message', {
      roomId: 'general',
      content: 'still here',
    });
    await friend.waitFor(withId(message.id));
  });
});

describe('CONNECT_RATE_PER_IP behind a proxy (TRUST_PROXY)', () => {
  const h = useApp({
    CONNECT_RATE_PER_IP: '2',
    CONNECT_RATE_WINDOW_MS: '60000',
    TRUST_PROXY: 'true',
  });

  const connectVia = (forwardedFor: string): Promise<string> => {
    const socket = io(h.app.url, {
      auth: { userId: `u${Math.random().toString(36).slice(2, 8)}` },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: { 'x-forwarded-for': forwardedFor },
    });
    return new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (error) => resolve(error.message));
    }).finally(() => socket.disconnect());
  };

  it('should count the address the proxy appended, whatever the client wrote before it', async () => {
    // The proxy appends the real client address last; a client may forge earlier hops.
    expect(await connectVia('1.1.1.1, 203.0.113.7')).toBe('connected');
    expect(await connectVia('2.2.2.2, 203.0.113.7')).toBe('connected');
    expect(await connectVia('3.3.3.3, 203.0.113.7')).toBe('RATE_LIMITED');
    // Another client behind the same proxy has its own budget.
    expect(await connectVia('203.0.113.8')).toBe('connected');
  });
});

describe('browser origins (CORS_ORIGINS)', () => {
  const h = useApp({ CORS_ORIGINS: 'https://game.example' });

  const connectWithOrigin = (origin: string | undefined): Promise<string> => {
    const socket = io(h.app.url, {
      auth: { userId: 'alice' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: origin === undefined ? {} : { origin },
    });
    return new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', () => resolve('refused'));
    }).finally(() => socket.disconnect());
  };

  it('should accept listed origins and clients without one, and refuse other origins', async () => {
    expect(await connectWithOrigin('https://game.example')).toBe('connected');
    expect(await connectWithOrigin(undefined)).toBe('connected');
    expect(await connectWithOrigin('https://evil.example')).toBe('refused');
    // The service's own page (same origin as the server) may always connect.
    expect(await connectWithOrigin(h.app.url)).toBe('connected');
  });
});

describe('HANDSHAKE_TIMEOUT_MS and MAX_HTTP_BUFFER_SIZE', () => {
  const h = useApp({
    HANDSHAKE_TIMEOUT_MS: '300',
    MAX_HTTP_BUFFER_SIZE: '40000',
    MAX_MESSAGE_LENGTH: '5000',
  });

  it('should close a connection that never completes the socket.io handshake', async () => {
    // An engine.io session (long-polling) that never sends the socket.io CONNECT packet.
    const base = `${h.app.url}/socket.io/?EIO=4&transport=polling`;
    const { sid } = JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string };
    const started = Date.now();
    // Each poll is held by the server until it has something: here, the close.
    let closed = false;
    while (!closed) {
      const res = await fetch(`${base}&sid=${sid}`);
      const body = await res.text();
      closed = res.status === 400 || body.split('\x1e').includes('1');
    }
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('should close a connection whose packet passes the size cap, and only that one', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    const gone = disconnected(bob);
    bob.socket.emit('room:message', { roomId: 'general', content: 'x'.repeat(60_000) }, () => {
      throw new Error('answered: the packet should have closed the connection');
    });
    expect(await gone).toBe('transport close');
    const { message } = await alice.ok('room:message', { roomId: 'general', content: 'fine' });
    expect(message.content).toBe('fine');
    // Said where an operator looks, not only felt by the client.
    const metrics = await (await fetch(`${h.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^chat_packets_too_large_total 1$/m);
  });

  it('should count a long-polling packet over the cap too', async () => {
    const base = `${h.app.url}/socket.io/?EIO=4&transport=polling`;
    const { sid } = JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string };
    const res = await fetch(`${base}&sid=${sid}`, { method: 'POST', body: 'x'.repeat(60_000) });
    expect(res.status).toBe(413);
    // Counted once the 413 has gone out, which may be just after the client reads it.
    const deadline = Date.now() + 2000;
    let metrics: string;
    do {
      metrics = await (await fetch(`${h.app.url}/metrics`)).text();
    } while (!/^chat_packets_too_large_total 1$/m.test(metrics) && Date.now() < deadline);
    expect(metrics).toMatch(/^chat_packets_too_large_total 1$/m);
  });
});

describe('browser origins in production, CORS_ORIGINS unset', () => {
  const h = useApp({ NODE_ENV: 'production', AUTH_JWT_SECRET: 'p'.repeat(40) });

  it('should refuse pages from other origins and accept its own', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('p'.repeat(40)));
    const connect = (origin: string): Promise<string> => {
      const socket = io(h.app.url, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        extraHeaders: { origin },
      });
      return new Promise<string>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', () => resolve('refused'));
      }).finally(() => socket.disconnect());
    };
    expect(await connect('https://anywhere.example')).toBe('refused');
    expect(await connect(h.app.url)).toBe('connected');
  });
});

describe('slow consumers (MAX_OUTBOUND_BUFFER_BYTES)', () => {
  const h = useApp({
    MAX_OUTBOUND_BUFFER_BYTES: '65536',
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_PER_SECOND: '100000',
  });

  it('should cut off a socket that stops reading while the room goes on for everyone else', async () => {
    const sender = await h.clients.as('sender');
    const bystander = await h.clients.as('bystander');
    const stalled = await h.clients.as('stalled');
    for (const c of [sender, bystander, stalled]) await c.ok('room:join', { roomId: 'general' });

    // The stalled client's process stops reading from its TCP socket.
    const engine = stalled.socket.io.engine as unknown as {
      transport: { ws: { _socket: { pause(): void } } };
    };
    engine.transport.ws._socket.pause();

    const content = 'x'.repeat(2000);
    const ids: string[] = [];
    const cutOff = bystander.waitFor(leaveOf('general', 'stalled'), 60_000);
    let gone = false;
    void cutOff.then(() => (gone = true));
    // Loopback socket buffers hold several MB before the server's own backlog grows.
    for (let batch = 0; batch < 100 && !gone; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 100 }, () =>
          sender.ok('room:message', { roomId: 'general', content }),
        ),
      );
      ids.push(...replies.map((r) => r.message.id));
    }
    await cutOff;
    // Every message reached the bystander, in order, none lost.
    const last = ids.at(-1) as string;
    await bystander.waitFor(withId(last), 30_000);
    const received = bystander.received
      .filter((m) => m.type === 'room_chat' && m.sender.id === 'sender')
      .map((m) => m.id);
    expect(received).toEqual(ids);
    const { message } = await bystander.ok('room:message', { roomId: 'general', content: 'ok' });
    await sender.waitFor(withId(message.id));
    const metrics = await (await fetch(`${h.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^chat_slow_consumers_cut_total 1$/m);
  }, 90_000);
});

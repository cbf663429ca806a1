/**
 * The handshake (open and JWT mode), presence (user_connect / user_disconnect, several
 * sockets per user, user:list, grace), room membership for the online session, idle
 * disconnects and periodic room notices (docs/PROTOCOL.md, "Connecting").
 */
import { describe, expect, it, jest } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { DeliveryService } from '../../src/delivery/delivery.service.js';
import { Clients, disconnected, startApp } from '../support/chat-app.js';
import {
  connectOf,
  disconnectOf,
  expectAbsent,
  leaveOf,
  roomMarker,
  SYSTEM,
  useApp,
  withId,
} from '../support/e2e.js';

const SECRET = 'e2e-secret-that-is-long-enough-for-hs256-0123456789';

// ---- helpers ---------------------------------------------------------------------------

function key(secret = SECRET): Uint8Array {
  return new TextEncoder().encode(secret);
}

function token(
  sub: string,
  claims: Record<string, unknown> = {},
  secret = SECRET,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key(secret));
}

/** A hand-made HS256 token, for claims jose would not build (a numeric sub, say). */
function handMade(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret = SECRET,
): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part(header)}.${part(payload)}`;
  const signature = createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${signature}`;
}

const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;

// ---- open mode -------------------------------------------------------------------------

describe('handshake in open mode', () => {
  const h = useApp();

  it('should take the identity from userId and the trimmed name', async () => {
    const alice = await h.clients.connect({ userId: 'alice', name: '  Alice Liddell  ' });

    const hello = await alice.waitFor(connectOf('alice'));

    expect(hello.user).toEqual({ id: 'alice', name: 'Alice Liddell' });
    expect((await alice.ok('user:list')).users).toEqual([{ id: 'alice', name: 'Alice Liddell' }]);
  });

  it('should accept any script and count name lengths in code points', async () => {
    const korean = await h.clients.as('chulsoo', '철수');
    const longest = '😀'.repeat(32);
    await h.clients.as('emoji', longest);
    await h.clients.as('i'.repeat(64), 'Sixty Four');
    await h.clients.as('A-z_0.9', 'punctuation');

    const { users } = await korean.ok('user:list');

    expect(users).toEqual(
      expect.arrayContaining([
        { id: 'chulsoo', name: '철수' },
        { id: 'emoji', name: longest },
        { id: 'i'.repeat(64), name: 'Sixty Four' },
        { id: 'A-z_0.9', name: 'punctuation' },
      ]),
    );
  });

  it.each([
    ['the reserved id system', { userId: 'system', name: 'System' }],
    ['an id with a space', { userId: 'bad id' }],
    ['an id with a slash', { userId: 'a/b' }],
    ['an id with an @', { userId: 'alice@example.com' }],
    ['an id with a non-ASCII letter', { userId: 'émile' }],
    ['an id of 65 chars', { userId: 'u'.repeat(65) }],
    ['a name with a control character', { userId: 'alice', name: 'Ali\u0007ce' }],
    ['a name with a tab', { userId: 'alice', name: 'Ali\tce' }],
    ['a name with a C1 control', { userId: 'alice', name: 'Ali\u0085ce' }],
    ['a name of 33 code points', { userId: 'alice', name: 'n'.repeat(33) }],
    ['a name of 33 emoji', { userId: 'alice', name: '😀'.repeat(33) }],
    ['a blank name', { userId: 'alice', name: '   ' }],
    ['a name with a lone surrogate', { userId: 'alice', name: 'Ali\ud800ce' }],
  ])('should refuse %s with INVALID_AUTH', async (_label, auth) => {
    expect(await h.clients.refused(auth)).toBe('INVALID_AUTH');
  });

  it('should ignore a token when no secret is configured', async () => {
    const alice = await h.clients.connect({
      token: 'not even a jwt',
      userId: 'alice',
      name: 'Alice',
    });

    expect((await alice.waitFor(connectOf('alice'))).user).toEqual({ id: 'alice', name: 'Alice' });
  });

  it('should refuse to start in open mode when NODE_ENV=production', async () => {
    await expect(startApp({ NODE_ENV: 'production' })).rejects.toThrow();
  });
});

// ---- JWT mode --------------------------------------------------------------------------

describe('handshake in JWT mode', () => {
  const h = useApp({ AUTH_JWT_SECRET: SECRET });

  it('should take the identity from the token and ignore userId and name beside it', async () => {
    const alice = await h.clients.connect({
      token: await token('alice', { name: 'Alice' }),
      userId: 'mallory',
      name: 'Mallory',
    });

    const hello = await alice.waitFor(connectOf('alice'));

    expect(hello.user).toEqual({ id: 'alice', name: 'Alice' });
    const { message } = await alice.ok('memo:send', { to: 'bob', content: 'from the token' });
    expect(message.sender).toEqual({ id: 'alice', name: 'Alice' });
    expect((await alice.ok('user:list')).users).toEqual([{ id: 'alice', name: 'Alice' }]);
  });

  it('should default the name to the subject and trim a given one', async () => {
    const bare = await h.clients.connect({ token: await token('bare') });
    await h.clients.connect({ token: await token('padded', { name: '  철수  ' }) });

    const { users } = await bare.ok('user:list');

    expect(users).toEqual(
      expect.arrayContaining([
        { id: 'bare', name: 'bare' },
        { id: 'padded', name: '철수' },
      ]),
    );
  });

  it('should accept a token without exp', async () => {
    const noExp = await new SignJWT({ name: 'Forever' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('forever')
      .sign(key());

    const client = await h.clients.connect({ token: noExp });

    expect((await client.waitFor(connectOf('forever'))).user).toEqual({
      id: 'forever',
      name: 'Forever',
    });
  });

  it.each([
    ['no token', async () => ({ userId: 'alice', name: 'Alice' })],
    ['an empty auth', async () => ({})],
    ['a token that is not a string', async () => ({ token: 42 })],
    ['an empty token', async () => ({ token: '' })],
    ['a malformed token', async () => ({ token: 'not-a-jwt' })],
    ['three garbage parts', async () => ({ token: 'a.b.c' })],
    [
      'a token signed with another secret',
      async () => ({ token: await token('alice', {}, 'x'.repeat(48)) }),
    ],
    [
      'a token with a tampered payload',
      async () => {
        const [header, , signature] = (await token('alice')).split('.');
        const payload = Buffer.from(JSON.stringify({ sub: 'admin', exp: inOneHour() })).toString(
          'base64url',
        );
        return { token: `${header}.${payload}.${signature}` };
      },
    ],
    [
      'an expired token',
      async () => ({
        token: await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('alice')
          .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
          .sign(key()),
      }),
    ],
    [
      'an HS512 token',
      async () => ({
        token: await new SignJWT({})
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject('alice')
          .setExpirationTime('1h')
          .sign(key()),
      }),
    ],
    [
      'an unsigned (alg none) token',
      async () => ({ token: new UnsecuredJWT({}).setSubject('alice').encode() }),
    ],
    [
      'a token without sub',
      async () => ({ token: handMade({ alg: 'HS256', typ: 'JWT' }, { name: 'Nobody' }) }),
    ],
    [
      'a token with a numeric sub',
      async () => ({ token: handMade({ alg: 'HS256' }, { sub: 42, exp: inOneHour() }) }),
    ],
    [
      'a token with an object sub',
      async () => ({ token: handMade({ alg: 'HS256' }, { sub: { id: 'a' } }) }),
    ],
  ])('should refuse %s with UNAUTHORIZED', async (_label, auth) => {
    expect(await h.clients.refused(await auth())).toBe('UNAUTHORIZED');
  });

  it('should accept a hand-made HS256 token (the refusals above are about their flaw)', async () => {
    const client = await h.clients.connect({
      token: handMade({ alg: 'HS256', typ: 'JWT' }, { sub: 'handmade', exp: inOneHour() }),
    });

    expect((await client.waitFor(connectOf('handmade'))).user).toEqual({
      id: 'handmade',
      name: 'handmade',
    });
  });

  it.each([
    ['the reserved sub system', () => token('system')],
    ['a sub with a space', () => token('bad id')],
    ['a sub of 65 chars', () => token('s'.repeat(65))],
    ['a name with a control character', () => token('alice', { name: 'Ali\u0000ce' })],
    ['a name of 33 code points', () => token('alice', { name: '철'.repeat(33) })],
    ['a blank name', () => token('alice', { name: '  ' })],
  ])('should refuse a token with %s with INVALID_AUTH', async (_label, make) => {
    expect(await h.clients.refused({ token: await make() })).toBe('INVALID_AUTH');
  });

  describe('with an issuer and an audience configured', () => {
    const strict = useApp({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_ISSUER: 'https://auth.example',
      AUTH_JWT_AUDIENCE: 'chat',
    });

    function scoped(iss: string | undefined, aud: string | undefined): Promise<string> {
      let jwt = new SignJWT({ name: 'Alice' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('alice');
      if (iss !== undefined) jwt = jwt.setIssuer(iss);
      if (aud !== undefined) jwt = jwt.setAudience(aud);
      return jwt.setExpirationTime('1h').sign(key());
    }

    it('should accept only tokens from that issuer for that audience', async () => {
      expect(await strict.clients.refused({ token: await scoped(undefined, 'chat') })).toBe(
        'UNAUTHORIZED',
      );
      expect(
        await strict.clients.refused({ token: await scoped('https://evil.example', 'chat') }),
      ).toBe('UNAUTHORIZED');
      expect(
        await strict.clients.refused({ token: await scoped('https://auth.example', undefined) }),
      ).toBe('UNAUTHORIZED');
      expect(
        await strict.clients.refused({ token: await scoped('https://auth.example', 'other') }),
      ).toBe('UNAUTHORIZED');
      const alice = await strict.clients.connect({
        token: await scoped('https://auth.example', 'chat'),
      });
      expect((await alice.waitFor(connectOf('alice'))).user).toEqual({
        id: 'alice',
        name: 'Alice',
      });
    });
  });
});

// ---- presence --------------------------------------------------------------------------

describe('a connected socket', () => {
  it('should not keep the token or the handshake headers once connected', async () => {
    // The socket.io server, as the gateway hands it over at start.
    const attach = jest.spyOn(DeliveryService.prototype, 'attach');
    const running = await startApp({ AUTH_JWT_SECRET: SECRET });
    const clients = new Clients(() => running.url);
    try {
      const server = attach.mock.calls[0][0];
      const signed = await token('alice', { name: 'Alice' });
      const alice = await clients.connect({ token: signed });
      await alice.waitFor(connectOf('alice'));

      const [socket] = [...server.sockets.sockets.values()];

      expect(socket.handshake.auth).toEqual({});
      expect(socket.handshake.headers).toEqual({});
      expect(JSON.stringify(socket.handshake)).not.toContain(signed);
      // Still served as the token said: the identity was taken at the handshake.
      expect((await alice.ok('user:list')).users).toEqual([{ id: 'alice', name: 'Alice' }]);
    } finally {
      attach.mockRestore();
      clients.closeAll();
      await running.close();
    }
  });
});

describe('presence', () => {
  const h = useApp();

  it('should send user_connect to every online user, the subject included', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const self = await alice.waitFor(connectOf('alice'));

    const bob = await h.clients.as('bob', 'Bob');

    const [atAlice, atBob] = await Promise.all([
      alice.waitFor(connectOf('bob')),
      bob.waitFor(connectOf('bob')),
    ]);
    expect(atAlice).toEqual(atBob);
    expect(atBob).toMatchObject({
      type: 'user_connect',
      sender: SYSTEM,
      user: { id: 'bob', name: 'Bob' },
    });
    expect(atBob.content).toContain('Bob');
    expect(self).toMatchObject({ sender: SYSTEM, user: { id: 'alice', name: 'Alice' } });
    expect(self.content).toContain('Alice');
    expect(bob.received.filter(connectOf('alice'))).toHaveLength(0);
  });

  describe('past PRESENCE_BROADCAST_MAX_USERS online users', () => {
    const small = useApp({ PRESENCE_BROADCAST_MAX_USERS: '2' });

    it('should tell only the subject of its connect, and nobody of a disconnect', async () => {
      const alice = await small.clients.as('alice', 'Alice');
      const bob = await small.clients.as('bob', 'Bob');
      await alice.waitFor(connectOf('bob'));

      await bob.ok('room:join', { roomId: 'general' });
      const carol = await small.clients.as('carol', 'Carol');
      await carol.waitFor(connectOf('carol'));
      await carol.ok('room:join', { roomId: 'general' });
      // A later message from carol reaches alice after any presence notice would have.
      const { message: pm } = await carol.ok('private:message', { to: 'alice', content: 'hi' });
      await alice.waitFor(withId(pm.id));
      expect(alice.received.filter(connectOf('carol'))).toHaveLength(0);
      expect((await alice.ok('user:list')).users.map((u) => u.id).sort()).toEqual([
        'alice',
        'bob',
        'carol',
      ]);

      carol.close();
      await disconnected(carol);
      await bob.waitFor(leaveOf('general', 'carol'));
      const { message: marker } = await bob.ok('private:message', { to: 'alice', content: 'm' });
      await alice.waitFor(withId(marker.id));
      expect(alice.received.filter(disconnectOf('carol'))).toHaveLength(0);

      // Back within the limit, presence goes to everyone again.
      bob.close();
      await alice.waitFor(disconnectOf('bob'));
    });
  });

  it('should deliver to every socket of a user and keep it online until its last socket closes', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob1 = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob1.ok('room:join', { roomId: 'general' });
    const bob2 = await h.clients.as('bob', 'Bob');
    await h.clients.as('carol', 'Carol');
    await alice.waitFor(connectOf('carol'));
    expect(alice.received.filter(connectOf('bob'))).toHaveLength(1);

    const chat = await roomMarker(alice, 'general', [alice, bob1, bob2]);
    const { message: pm } = await alice.ok('private:message', {
      to: 'bob',
      content: 'to both tabs',
    });
    const { message: memo, delivered } = await alice.ok('memo:send', {
      to: 'bob',
      content: 'memo',
    });
    await Promise.all(
      [bob1, bob2].flatMap((b) => [b.waitFor(withId(pm.id)), b.waitFor(withId(memo.id))]),
    );
    expect(delivered).toBe(true);
    expect(bob2.received.filter(withId(chat.id))).toHaveLength(1);
    // bob2's room events come from bob's membership: bob2 sends in the room without joining.
    const fromTab2 = await roomMarker(bob2, 'general', [alice, bob1, bob2]);
    expect(fromTab2.sender).toEqual({ id: 'bob', name: 'Bob' });

    bob1.close();
    await disconnected(bob1);
    const still = await roomMarker(alice, 'general', [alice, bob2]);
    expect((await alice.ok('user:list')).users.map((u) => u.id).sort()).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
    await alice.ok('private:message', { to: 'bob', content: 'still online' });
    bob2.close();
    await alice.waitFor(disconnectOf('bob'));
    await alice.waitFor(leaveOf('general', 'bob'));
    await h.clients.as('dave', 'Dave');
    await alice.waitFor(connectOf('dave'));
    await roomMarker(alice, 'general', [alice]);

    expect(alice.received.filter(disconnectOf('bob'))).toHaveLength(1);
    expect(alice.received.filter(leaveOf('general', 'bob'))).toHaveLength(1);
    expect(alice.received.findIndex(withId(still.id))).toBeLessThan(
      alice.received.findIndex(leaveOf('general', 'bob')),
    );
    expectAbsent(alice.received.find(disconnectOf('bob')), 'roomId', 'seq');
    expect((await alice.ok('user:list')).users.map((u) => u.id).sort()).toEqual([
      'alice',
      'carol',
      'dave',
    ]);
  });

  it('should end room membership with the online session: room_leave on going offline, join again after', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await alice.ok('room:join', { roomId: 'dev' });
    await bob.ok('room:join', { roomId: 'general' }); // seq 2
    await bob.ok('room:join', { roomId: 'dev' });

    bob.close();

    const leave = await alice.waitFor(leaveOf('general', 'bob'));
    await alice.waitFor(leaveOf('dev', 'bob'));
    expect(leave).toMatchObject({ seq: 3, sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    const missed = await roomMarker(alice, 'general', [alice]); // seq 4
    const back = await h.clients.as('bob', 'Bob');
    const { rooms } = await back.ok('room:list');
    expect(rooms.find((r) => r.id === 'general')?.members).toBe(1);
    const refused = await back.request('room:message', { roomId: 'general', content: 'hi' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'NOT_MEMBER' } });
    const rejoin = await back.ok('room:join', { roomId: 'general', since: 2 });
    expect(rejoin.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(rejoin.messages[1]).toEqual(missed);
    await back.ok('room:message', { roomId: 'general', content: 'back again' });
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

describe('presence with a grace period', () => {
  const h = useApp({ PRESENCE_GRACE_MS: '800' });

  it('should keep a user that reconnects within the grace online and in its rooms', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const dave = await h.clients.as('dave', 'Dave');
    for (const c of [alice, bob, dave]) await c.ok('room:join', { roomId: 'general' });

    bob.close();
    await disconnected(bob);
    const bobAgain = await h.clients.as('bob', 'Bob');
    // dave goes offline after bob came back: its grace ends after bob's would have.
    dave.close();
    await alice.waitFor(disconnectOf('dave'), 4000);
    await alice.waitFor(leaveOf('general', 'dave'));

    expect(alice.received.filter(disconnectOf('bob'))).toHaveLength(0);
    expect(alice.received.filter(leaveOf('general', 'bob'))).toHaveLength(0);
    const marker = await roomMarker(alice, 'general', [alice, bobAgain]);
    expect(marker.seq).toBe(5); // 1-3 joins, 4 dave's leave
    await bobAgain.ok('room:message', { roomId: 'general', content: 'never left' });
    expect((await alice.ok('user:list')).users.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
  });
});

describe('idle disconnect', () => {
  const h = useApp({ IDLE_TIMEOUT_MS: '300' });

  it('should disconnect an idle user and tell the others', async () => {
    const bob = await h.clients.as('bob', 'Bob');
    await bob.ok('room:join', { roomId: 'general' });
    const alice = await h.clients.as('alice', 'Alice');
    await alice.ok('room:join', { roomId: 'general' });
    // Alice keeps busy (activity, not synchronisation) while bob idles.
    let n = 0;
    const keepAlive = setInterval(() => {
      alice
        .request('room:message', { roomId: 'general', content: `busy ${n++}` })
        .catch(() => undefined);
    }, 100);

    try {
      await disconnected(bob, 4000);
      const gone = await alice.waitFor(disconnectOf('bob'), 4000);
      await alice.waitFor(leaveOf('general', 'bob'), 4000);
      expect(gone).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    } finally {
      clearInterval(keepAlive);
    }
    expect(bob.socket.connected).toBe(false);
  });
});

describe('room notices', () => {
  const h = useApp({ ROOM_NOTICE_INTERVAL_MS: '200' });

  it('should send periodic room_notice messages without seq to the members', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'dev' });

    const notice = await alice.waitFor((m) => m.type === 'room_notice', 3000);
    await bob.waitFor((m) => m.type === 'room_notice' && m.roomId === 'dev', 3000);
    await alice.waitFor((m) => m.type === 'room_notice' && m.id !== notice.id, 3000);

    expect(notice).toMatchObject({ roomId: 'general', sender: SYSTEM });
    expect(typeof notice.content).toBe('string');
    expect(notice.content.length).toBeGreaterThan(0);
    expectAbsent(notice, 'seq', 'user', 'recipient');
    for (const m of alice.received.filter((x) => x.type === 'room_notice'))
      expect(m.roomId).toBe('general');
    for (const m of bob.received.filter((x) => x.type === 'room_notice'))
      expect(m.roomId).toBe('dev');
    // Notices are not persisted room events: seq stays gapless.
    const chat = await roomMarker(alice, 'general', [alice]);
    expect(chat.seq).toBe(2);
  });
});

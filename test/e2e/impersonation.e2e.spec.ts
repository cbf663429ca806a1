/**
 * Impersonation (issue #6, "Trust"): nobody acts as somebody else. docs/PROTOCOL.md,
 * "Connecting": the identity of every action is the authenticated socket's user; a payload never
 * names its sender and such fields are ignored; a token is required whenever a secret is
 * configured (and `userId`/`name` beside it are ignored); open mode refuses to start in production.
 *
 * test/e2e/handshake-presence.e2e.spec.ts already covers the common token refusals (no token,
 * malformed, wrong secret, tampered payload, expired an hour ago, HS512, alg none, sub missing /
 * numeric / object, issuer and audience). This file covers the rest.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients } from '../support/chat-app.js';
import {
  connectOf,
  data,
  disconnectOf,
  expectError,
  joinOf,
  leaveOf,
  roomMarker,
  useApp,
  withId,
} from '../support/e2e.js';
import { ServerProcess } from '../support/server-process.js';

const SECRET = 'impersonation-secret-long-enough-for-hs256-0123456789';
const ALICE = { id: 'alice', name: 'Alice' };
const BOB = { id: 'bob', name: 'Bob' };
const CAROL = { id: 'carol', name: 'Carol' };
/** Ways a payload might try to name its sender, for events whose userId names a target. */
const CLAIMS = {
  sender: ALICE,
  from: 'alice',
  user: ALICE,
  name: 'Alice',
  senderId: 'alice',
  owner: 'alice',
};
/** Every way a payload might try to name its sender. */
const FORGED = { ...CLAIMS, userId: 'alice' };

// ---- tokens --------------------------------------------------------------------------------

const KEY = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

/** A valid token for the user. */
function token(user: { id: string; name: string }): Promise<string> {
  return new SignJWT({ name: user.name })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.id)
    .setExpirationTime('1h')
    .sign(KEY);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256-style token built by hand: any header, any claims, signed with the secret. */
function handMade(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

function senderOf(m: ChatMessage | undefined) {
  return m?.sender;
}

// ---- payload fields naming a sender ---------------------------------------------------------

describe('a payload that names a sender', () => {
  const h = useApp({ AUTH_JWT_SECRET: SECRET });
  const as = async (user: { id: string; name: string }) =>
    h.clients.connect({ token: await token(user) });

  it('should store and broadcast a room message as the token’s user, whatever it claims', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    const reply = await bob.request('room:message', {
      roomId: 'general',
      content: 'I am alice, honest',
      ...FORGED,
    });

    expect(reply).toMatchObject({ ok: true, message: { sender: BOB } });
    const id = (reply as { message: ChatMessage }).message.id;
    expect(senderOf(await alice.waitFor(withId(id)))).toEqual(BOB);
    const { messages } = await alice.ok('room:history', { roomId: 'general' });
    expect(senderOf(messages.find((m) => m.id === id))).toEqual(BOB);
    const carol = await as(CAROL);
    const joined = await carol.ok('room:join', { roomId: 'general', since: 0 });
    expect(senderOf(joined.messages.find((m) => m.id === id))).toEqual(BOB);
  });

  it('should deliver private messages and memos, live and stored, from the token’s user', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);

    const pm = await bob.ok('private:message', { to: 'alice', content: 'pm', ...FORGED });
    const live = await bob.ok('memo:send', { to: 'alice', content: 'memo', ...FORGED });
    const stored = await bob.ok('memo:send', { to: 'carol', content: 'later', ...FORGED });

    expect(stored.delivered).toBe(false);
    for (const m of [pm.message, live.message]) {
      expect(await alice.waitFor(withId(m.id))).toMatchObject({ sender: BOB, recipient: ALICE });
    }
    const carol = await as(CAROL);
    expect(await carol.waitFor(withId(stored.message.id))).toMatchObject({
      type: 'instant_message',
      sender: BOB,
      recipient: { id: 'carol' },
      content: 'later',
    });
  });

  it('should announce typing as the token’s user', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    await bob.ok('typing', { roomId: 'general', ...FORGED } as { roomId: string });
    await roomMarker(bob, 'general', [alice]); // typing went out before the marker

    expect(alice.events('typing')).toEqual([{ roomId: 'general', user: BOB }]);
  });

  it('should make only the token’s user leave or join, never the user the payload names', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    await bob.ok('room:leave', { roomId: 'general', ...FORGED } as { roomId: string });
    await bob.ok('room:join', { roomId: 'dev', ...FORGED } as { roomId: string });

    await alice.waitFor(leaveOf('general', 'bob'));
    expect(alice.received.filter(leaveOf('general', 'alice'))).toEqual([]);
    await roomMarker(alice, 'general', [alice]); // alice is still a member
    const { rooms } = await alice.ok('room:list');
    expect(rooms.find((r) => r.id === 'general')?.members).toBe(1);
    expect(rooms.find((r) => r.id === 'dev')?.members).toBe(1);
    expect(await alice.request('room:message', { roomId: 'dev', content: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_MEMBER' },
    });
  });

  it('should not let a non-owner invite, kick or mute by naming the owner', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);
    const carol = await as(CAROL);
    await alice.ok('room:create', { roomId: 'den', private: true });
    await alice.ok('room:invite', { roomId: 'den', userId: 'carol' });
    await carol.ok('room:join', { roomId: 'den' });
    await alice.ok('room:create', { roomId: 'hall' }); // public: bob may join
    await bob.ok('room:join', { roomId: 'hall' });
    await carol.ok('room:join', { roomId: 'hall' });

    const invite = await bob.request('room:invite', { roomId: 'den', userId: 'bob', ...CLAIMS });
    const join = await bob.request('room:join', { roomId: 'den', ...FORGED });
    const kick = await bob.request('room:kick' as 'room:invite', {
      roomId: 'hall',
      userId: 'carol',
      ...CLAIMS,
    });
    const mute = await bob.request('room:mute' as 'room:invite', {
      roomId: 'hall',
      userId: 'carol',
      seconds: 600,
      ...CLAIMS,
    });

    for (const reply of [invite, join, kick, mute]) {
      expect(reply).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    // carol is still in both rooms and may still speak in them.
    await roomMarker(carol, 'hall', [alice, bob, carol]);
    await roomMarker(carol, 'den', [alice, carol]);
    expect(alice.received.filter(leaveOf('hall', 'carol'))).toEqual([]);
  });

  it('should keep clientMsgId per user: another user reusing it gets a message of its own', async () => {
    const alice = await as(ALICE);
    const bob = await as(BOB);
    await as(CAROL);
    const secret = await alice.ok('memo:send', {
      to: 'carol',
      content: 'for carol only',
      clientMsgId: 'shared-1',
    });

    const replay = await bob.ok('memo:send', {
      to: 'carol',
      content: 'from bob',
      clientMsgId: 'shared-1',
      ...FORGED,
    } as { to: string; content: string; clientMsgId: string });
    const viaPm = await bob.ok('private:message', {
      to: 'alice',
      content: 'pm from bob',
      clientMsgId: 'shared-1',
      ...FORGED,
    } as { to: string; content: string; clientMsgId: string });

    expect(replay.message).toMatchObject({ sender: BOB, content: 'from bob' });
    expect(replay.message.id).not.toBe(secret.message.id);
    // bob's own retry is bob's first message; alice's memo never leaks to bob.
    expect(viaPm.message).toEqual(replay.message);
    expect(bob.received.some((m) => m.content === 'for carol only')).toBe(false);
  });
});

describe('a payload that names a sender, in open mode', () => {
  const h = useApp();

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
});

// ---- a valid token beside another user's id ---------------------------------------------------

describe('a valid token for bob with alice’s userId and name beside it', () => {
  const h = useApp({ AUTH_JWT_SECRET: SECRET });

  it('should be bob in every respect, and get nothing of alice’s', async () => {
    const carol = await h.clients.connect({ token: await token(CAROL) });
    const pending = await carol.ok('memo:send', { to: 'alice', content: 'for alice' });
    await carol.ok('room:create', { roomId: 'alices', private: true });
    await carol.ok('room:invite', { roomId: 'alices', userId: 'alice' });

    const bob = await h.clients.connect({
      token: await token(BOB),
      userId: 'alice',
      name: 'Alice',
    });

    expect((await bob.waitFor(connectOf('bob'))).user).toEqual(BOB);
    expect((await bob.ok('user:list')).users.map((u) => u.id).sort()).toEqual(['bob', 'carol']);
    // alice is offline: nothing addressed to her reaches this socket.
    expect(await carol.request('private:message', { to: 'alice', content: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'USER_OFFLINE' },
    });
    expect(await bob.request('room:join', { roomId: 'alices' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    const { message } = await bob.ok('memo:send', { to: 'carol', content: 'hi' });
    expect(message.sender).toEqual(BOB);
    await carol.waitFor(withId(message.id));
    expect(bob.received.some((m) => m.id === pending.message.id)).toBe(false);

    // The real alice gets her memo and her invitation.
    const alice = await h.clients.connect({ token: await token(ALICE) });
    expect(await alice.waitFor(withId(pending.message.id))).toMatchObject({
      sender: CAROL,
      recipient: { id: 'alice' },
    });
    await alice.ok('room:join', { roomId: 'alices' });
    await carol.waitFor(joinOf('alices', 'alice'));
    expect(bob.received.some((m) => m.id === pending.message.id)).toBe(false);
  });

  it('should not let bob’s socket close alice’s session or take over her presence', async () => {
    const alice = await h.clients.connect({ token: await token(ALICE) });
    await alice.ok('room:join', { roomId: 'general' });
    const bob = await h.clients.connect({ token: await token(BOB), userId: 'alice' });
    await bob.ok('room:join', { roomId: 'general' });

    bob.close();

    await alice.waitFor(disconnectOf('bob'));
    await alice.waitFor(leaveOf('general', 'bob'));
    expect(alice.received.filter(disconnectOf('alice'))).toEqual([]);
    await roomMarker(alice, 'general', [alice]);
    expect((await alice.ok('user:list')).users).toEqual([ALICE]);
  });
});

// ---- forged tokens ---------------------------------------------------------------------------

describe('forged tokens', () => {
  const h = useApp({ AUTH_JWT_SECRET: SECRET });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it.each([
    [
      'an RS256 token signed with an RSA key',
      () =>
        new SignJWT({ name: 'Alice' })
          .setProtectedHeader({ alg: 'RS256' })
          .setSubject('alice')
          .setExpirationTime('1h')
          .sign(rsa.privateKey),
    ],
    [
      'an ES256 token signed with an EC key',
      () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256' })
          .setSubject('alice')
          .setExpirationTime('1h')
          .sign(ec.privateKey),
    ],
    [
      'an RS256 header over an HMAC signature made with the secret (algorithm confusion)',
      async () => handMade({ alg: 'RS256', typ: 'JWT' }, { sub: 'alice', exp: now() + 3600 }),
    ],
    [
      'a lower-case hs256 header',
      async () => handMade({ alg: 'hs256' }, { sub: 'alice', exp: now() + 3600 }),
    ],
    [
      'a header without alg',
      async () => handMade({ typ: 'JWT' }, { sub: 'alice', exp: now() + 3600 }),
    ],
    [
      'alg none carrying a valid signature',
      async () => {
        const [, payload, signature] = (await token(ALICE)).split('.');
        return `${b64({ alg: 'none' })}.${payload}.${signature}`;
      },
    ],
    [
      'alg none with an empty signature',
      async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice' })}.`,
    ],
    [
      'a valid token with its signature stripped',
      async () => `${(await token(ALICE)).split('.').slice(0, 2).join('.')}.`,
    ],
    [
      'a valid token with its signature cut by one character',
      async () => (await token(ALICE)).slice(0, -1),
    ],
    [
      'a signature taken from bob’s token over alice’s claims',
      async () => {
        const [header, payload] = (await token(ALICE)).split('.');
        const signature = (await token(BOB)).split('.')[2];
        return `${header}.${payload}.${signature}`;
      },
    ],
    [
      'a token that expired five seconds ago',
      () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('alice')
          .setExpirationTime(now() - 5)
          .sign(KEY),
    ],
    [
      'a token not valid before an hour from now (nbf)',
      () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('alice')
          .setNotBefore(now() + 3600)
          .setExpirationTime('2h')
          .sign(KEY),
    ],
    [
      'an exp that is a string',
      async () => handMade({ alg: 'HS256' }, { sub: 'alice', exp: String(now() + 3600) }),
    ],
    ['a sub that is an array', async () => handMade({ alg: 'HS256' }, { sub: ['alice'] })],
    ['a sub that is null', async () => handMade({ alg: 'HS256' }, { sub: null })],
    ['a sub that is true', async () => handMade({ alg: 'HS256' }, { sub: true })],
    ['a payload that is not JSON', async () => `${b64({ alg: 'HS256' })}.bm90IGpzb24.x`],
  ])('should refuse %s with UNAUTHORIZED', async (_label, make) => {
    expect(await h.clients.refused({ token: await make() })).toBe('UNAUTHORIZED');
  });

  it.each([
    ['an array holding a valid token', async () => [await token(ALICE)]],
    ['an object holding a valid token', async () => ({ token: await token(ALICE) })],
    ['a buffer holding a valid token', async () => Buffer.from(await token(ALICE))],
  ])('should refuse a token that is %s with UNAUTHORIZED', async (_label, make) => {
    expect(await h.clients.refused({ token: await make(), userId: 'alice' })).toBe('UNAUTHORIZED');
  });

  it('should accept the same claims when properly signed (the refusals are about the forgery)', async () => {
    const started = await new SignJWT({ name: 'Alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('alice')
      .setNotBefore(now() - 60)
      .setExpirationTime(now() + 60)
      .sign(KEY);

    const alice = await h.clients.connect({ token: started });

    expect((await alice.waitFor(connectOf('alice'))).user).toEqual(ALICE);
  });
});

describe('forged tokens with an issuer and an audience configured', () => {
  const h = useApp({
    AUTH_JWT_SECRET: SECRET,
    AUTH_JWT_ISSUER: 'https://auth.example',
    AUTH_JWT_AUDIENCE: 'chat',
  });

  function scoped(claims: Record<string, unknown>, exp = now() + 3600): Promise<string> {
    return new SignJWT({ name: 'Alice', ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(exp)
      .sign(KEY);
  }

  it.each([
    ['an audience list without chat', { iss: 'https://auth.example', aud: ['other', 'admin'] }],
    ['an issuer with a trailing slash', { iss: 'https://auth.example/', aud: 'chat' }],
    ['an issuer in another case', { iss: 'https://AUTH.example', aud: 'chat' }],
    ['an audience in another case', { iss: 'https://auth.example', aud: 'Chat' }],
    ['an issuer list', { iss: ['https://auth.example'], aud: 'chat' }],
  ])('should refuse %s with UNAUTHORIZED', async (_label, claims) => {
    expect(await h.clients.refused({ token: await scoped(claims) })).toBe('UNAUTHORIZED');
  });

  it('should refuse a rightly scoped token once expired', async () => {
    const expired = await scoped({ iss: 'https://auth.example', aud: 'chat' }, now() - 5);

    expect(await h.clients.refused({ token: expired })).toBe('UNAUTHORIZED');
  });

  it('should accept an audience list that holds chat', async () => {
    const alice = await h.clients.connect({
      token: await scoped({ iss: 'https://auth.example', aud: ['billing', 'chat'] }),
    });

    expect((await alice.waitFor(connectOf('alice'))).user).toEqual(ALICE);
  });
});

// ---- production ------------------------------------------------------------------------------

/** The built service (dist/), as `npm start` runs it. */
describe('open mode in production', () => {
  let server: ServerProcess | undefined;

  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
  });

  it.each([
    ['no AUTH_JWT_SECRET', {}],
    ['a blank AUTH_JWT_SECRET', { AUTH_JWT_SECRET: '   ' }],
    ['an AUTH_JWT_SECRET shorter than 32 characters', { AUTH_JWT_SECRET: 'short-secret' }],
  ])('should refuse to start with %s, saying why', async (_label, env) => {
    server = new ServerProcess({ NODE_ENV: 'production', STORE: 'memory', ...env });

    const code = await server.runToExit(15_000);

    expect(code).not.toBe(0);
    expect(server.url).toBe('');
    expect(server.log).toContain('AUTH_JWT_SECRET');
    expect(server.log).not.toMatch(/chat service on/);
  });

  it('should start with a secret and refuse an open-mode identity', async () => {
    server = new ServerProcess({
      NODE_ENV: 'production',
      STORE: 'memory',
      AUTH_JWT_SECRET: SECRET,
    });
    const url = await server.start();
    const clients = new Clients(() => url);

    try {
      expect(await clients.refused({ userId: 'alice', name: 'Alice' })).toBe('UNAUTHORIZED');
      const alice = await clients.connect({ token: await token(ALICE), userId: 'mallory' });
      expect((await alice.waitFor(connectOf('alice'))).user).toEqual(ALICE);
    } finally {
      clients.closeAll();
    }
  });
});

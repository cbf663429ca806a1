/**
 * Malformed payloads (docs/PROTOCOL.md, "Text rules" and "Replies"): `null` for an optional
 * field, a payload that is not an object, and junk of every kind are INVALID_PAYLOAD (or
 * another contract error), and no input, however malformed, disturbs other users.
 */
import { describe, expect, it } from '@jest/globals';
import { expectError, raw, rawRequest, useApp, withId } from '../support/e2e.js';

// ---- examples --------------------------------------------------------------------------

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

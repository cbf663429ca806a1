/**
 * Replies and errors (docs/PROTOCOL.md, "Replies"): when several errors apply the first in the
 * contract's order wins; an event name the contract does not define is INVALID_PAYLOAD; an
 * event sent without an ack gets its error as chat:error. Malformed payloads are in
 * malformed-payloads.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { expectError, raw, rawRequest, useApp } from '../support/e2e.js';

// ---- error precedence ------------------------------------------------------------------

describe('error precedence', () => {
  const h = useApp();

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
});

// ---- unknown events and errors without an ack ------------------------------------------

describe('unknown events and chat:error', () => {
  const h = useApp();

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
});

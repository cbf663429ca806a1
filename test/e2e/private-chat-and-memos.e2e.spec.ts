/**
 * One-to-one messages (docs/PROTOCOL.md, "Client events"): private:message, live only, and
 * memo:send, stored for an offline recipient. Memos at least once, with acknowledgements and
 * in batches, are in memo-backlog.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import {
  connectOf,
  data,
  disconnectOf,
  expectAbsent,
  expectError,
  memoMarker,
  useApp,
  UUID,
  withId,
} from '../support/e2e.js';

// ---- private:message -------------------------------------------------------------------

describe('private:message', () => {
  const h = useApp();

  it('should deliver private_chat with its recipient to every socket of sender and recipient', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const alice2 = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const bob2 = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');

    const reply = await alice.request('private:message', { to: 'bob', content: ' hi bob ' });

    const { message } = data(reply);
    expect(message).toMatchObject({
      type: 'private_chat',
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: ' hi bob ',
    });
    expect(message.id).toMatch(UUID);
    expectAbsent(message, 'roomId', 'seq', 'user');
    for (const c of [alice, alice2, bob, bob2])
      expect(await c.waitFor(withId(message.id))).toEqual(message);
    await memoMarker(bob, 'carol', [carol]);
    expect(carol.received.filter((m) => m.type === 'private_chat')).toHaveLength(0);
  });

  it('should answer USER_OFFLINE when the recipient has no socket', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    bob.close();
    await alice.waitFor(disconnectOf('bob'));

    expectError(
      await alice.request('private:message', { to: 'bob', content: 'hi' }),
      'USER_OFFLINE',
    );
    expectError(
      await alice.request('private:message', { to: 'never-seen', content: 'hi' }),
      'USER_OFFLINE',
    );
  });

  it.each([
    ['the reserved id', { to: 'system', content: 'hi' }],
    ['a bad id', { to: 'b b', content: 'hi' }],
    ['a missing recipient', { content: 'hi' }],
    ['a numeric recipient', { to: 7, content: 'hi' }],
    ['a blank content', { to: 'bob', content: ' ' }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');
    await h.clients.as('bob');

    expectError(await alice.request('private:message', payload), 'INVALID_PAYLOAD');
  });
});

// ---- memo:send -------------------------------------------------------------------------

describe('memo:send', () => {
  const h = useApp();

  it('should deliver a memo to an online recipient and report delivered true', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');

    const reply = await alice.request('memo:send', { to: 'bob', content: '쪽지 왔어요' });

    const { message, delivered } = data(reply);
    expect(delivered).toBe(true);
    expect(message).toMatchObject({
      type: 'instant_message',
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: '쪽지 왔어요',
    });
    expectAbsent(message, 'roomId', 'seq', 'user');
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
  });

  it('should store a memo for an offline user and deliver it once, on its next connect only', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    const first = await alice.ok('memo:send', { to: 'bob', content: 'first memo' });
    const second = await alice.ok('memo:send', { to: 'bob', content: 'second memo' });

    expect(first.delivered).toBe(false);
    expect(second.delivered).toBe(false);
    expect(first.message.recipient?.id).toBe('bob');
    await alice.waitFor(withId(first.message.id));
    const bob = await h.clients.as('bob', 'Bob');
    const got = [
      await bob.waitFor(withId(first.message.id)),
      await bob.waitFor(withId(second.message.id)),
    ];
    expect(got[0]).toEqual(first.message);
    expect(got[1]).toEqual(second.message);
    const memos = bob.received.filter((m) => m.type === 'instant_message');
    expect(memos.map((m) => m.content)).toEqual(['first memo', 'second memo']);

    bob.close();
    await alice.waitFor(disconnectOf('bob'));
    const bobAgain = await h.clients.as('bob', 'Bob');
    await bobAgain.waitFor(connectOf('bob'));
    const marker = await memoMarker(alice, 'bob', [bobAgain]);
    expect(bobAgain.received.filter((m) => m.type === 'instant_message')).toEqual([marker]);
  });

  it('should accept a memo to any valid user id, even one never seen', async () => {
    const alice = await h.clients.as('alice');

    const reply = await alice.request('memo:send', { to: 'someone.else_42', content: 'hello?' });

    expect(data(reply).delivered).toBe(false);
  });

  it.each([
    ['the reserved id', { to: 'system', content: 'hi' }],
    ['a bad id', { to: 'x'.repeat(65), content: 'hi' }],
    ['a missing recipient', { content: 'hi' }],
    ['a missing content', { to: 'bob' }],
    ['a control character', { to: 'bob', content: 'a\u0001' }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, payload) => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request('memo:send', payload), 'INVALID_PAYLOAD');
  });
});

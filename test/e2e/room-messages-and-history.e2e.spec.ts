/**
 * A room's messages (docs/PROTOCOL.md, "Client events", room:message and room:history): the
 * stored message in the reply and to every member, membership, and history pages. The text
 * rules of `content` are in message-text-rules.e2e.spec.ts, retries in idempotency.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import {
  data,
  expectAbsent,
  expectError,
  fill,
  HIGH_RATE,
  ISO_UTC,
  joinOf,
  range,
  seqs,
  useApp,
  UUID,
  withId,
} from '../support/e2e.js';

// ---- room:message ----------------------------------------------------------------------

describe('room:message', () => {
  const h = useApp();

  it('should reply with the stored message and deliver it to every member, sender included', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2

    const reply = await alice.request('room:message', { roomId: 'general', content: 'hello' });

    const { message } = data(reply);
    expect(message).toMatchObject({
      type: 'room_chat',
      roomId: 'general',
      seq: 3,
      sender: { id: 'alice', name: 'Alice' },
      content: 'hello',
    });
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp);
    expectAbsent(message, 'recipient', 'user');
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
    const { messages } = await bob.ok('room:history', { roomId: 'general' });
    expect(messages.at(-1)).toEqual(message);
  });

  it('should answer NOT_MEMBER in a room one is not in, public or private', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'vault', private: true });

    expectError(
      await bob.request('room:message', { roomId: 'general', content: 'hi' }),
      'NOT_MEMBER',
    );
    expectError(
      await bob.request('room:message', { roomId: 'vault', content: 'hi' }),
      'NOT_MEMBER',
    );
  });

  it('should answer NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');

    expectError(
      await alice.request('room:message', { roomId: 'nowhere', content: 'hi' }),
      'NOT_FOUND',
    );
  });
});

// ---- room:history ----------------------------------------------------------------------

describe('room:history', () => {
  const h = useApp();

  async function history(): Promise<{ alice: TestClient; all: ChatMessage[] }> {
    const alice = await h.clients.as('alice', 'Alice');
    await alice.ok('room:create', { roomId: 'hist' }); // seq 1
    const join = await alice.waitFor(joinOf('hist', 'alice'));
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push((await alice.ok('room:message', { roomId: 'hist', content: `h${i}` })).message); // 2..11
    }
    return { alice, all: [join, ...sent] };
  }

  it('should return every retained event, oldest first, when before is absent', async () => {
    const { alice, all } = await history();

    const { messages } = await alice.ok('room:history', { roomId: 'hist' });

    expect(messages).toEqual(all);
  });

  it('should return the newest limit events before a seq, oldest first', async () => {
    const { alice, all } = await history();

    const beforeSix = await alice.ok('room:history', { roomId: 'hist', before: 6 });
    const twoBeforeSix = await alice.ok('room:history', { roomId: 'hist', before: 6, limit: 2 });
    const newestThree = await alice.ok('room:history', { roomId: 'hist', limit: 3 });
    const beforeOne = await alice.ok('room:history', { roomId: 'hist', before: 1 });
    const beforeZero = await alice.ok('room:history', { roomId: 'hist', before: 0 });
    const beyond = await alice.ok('room:history', { roomId: 'hist', before: 1000 });
    const one = await alice.ok('room:history', { roomId: 'hist', limit: 1 });

    expect(seqs(beforeSix.messages)).toEqual([1, 2, 3, 4, 5]);
    expect(twoBeforeSix.messages).toEqual(all.slice(3, 5));
    expect(seqs(newestThree.messages)).toEqual([9, 10, 11]);
    expect(beforeOne.messages).toEqual([]);
    expect(beforeZero.messages).toEqual([]);
    expect(beyond.messages).toEqual(all);
    expect(one.messages).toEqual([all[10]]);
  });

  it.each([
    ['limit 0', { limit: 0 }],
    ['a negative limit', { limit: -1 }],
    ['a fractional limit', { limit: 1.5 }],
    ['a string limit', { limit: '10' }],
    ['a null limit', { limit: null }],
    ['a negative before', { before: -1 }],
    ['a fractional before', { before: 2.5 }],
    ['a string before', { before: '3' }],
    ['a null before', { before: null }],
  ])('should refuse %s with INVALID_PAYLOAD', async (_label, extra) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:history', { roomId: 'general', ...extra }),
      'INVALID_PAYLOAD',
    );
  });

  it('should answer NOT_MEMBER to a non-member, private room or not, and NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:create', { roomId: 'vault', private: true });
    await alice.ok('room:invite', { roomId: 'vault', userId: 'bob' });

    expectError(await bob.request('room:history', { roomId: 'general' }), 'NOT_MEMBER');
    expectError(await bob.request('room:history', { roomId: 'vault' }), 'NOT_MEMBER');
    expectError(await bob.request('room:history', { roomId: 'nowhere' }), 'NOT_FOUND');
  });
});

describe('room:history with a long history', () => {
  const h = useApp(HIGH_RATE);

  it('should default to 50 events and cut a larger limit to 200', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'long' }); // seq 1
    await fill(alice, 'long', 210); // seq 2..211

    const byDefault = await alice.ok('room:history', { roomId: 'long' });
    const max = await alice.ok('room:history', { roomId: 'long', limit: 200 });
    const over = await alice.ok('room:history', { roomId: 'long', limit: 201 });
    const huge = await alice.ok('room:history', { roomId: 'long', limit: 100_000 });
    const before = await alice.ok('room:history', { roomId: 'long', before: 100, limit: 500 });

    expect(seqs(byDefault.messages)).toEqual(range(162, 211));
    expect(seqs(max.messages)).toEqual(range(12, 211));
    expect(seqs(over.messages)).toEqual(range(12, 211));
    expect(seqs(huge.messages)).toEqual(range(12, 211));
    expect(seqs(before.messages)).toEqual(range(1, 99));
  });
});

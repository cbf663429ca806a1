/**
 * Idempotent sends (docs/PROTOCOL.md, "Client events", `clientMsgId`): a retry with an id
 * already used returns the first stored message, across room:message, private:message and
 * memo:send and across a user's sockets, and nothing is delivered twice.
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { TestClient } from '../support/chat-app.js';
import { data, expectError, memoMarker, roomMarker, useApp, withId } from '../support/e2e.js';

describe('clientMsgId', () => {
  const h = useApp();

  async function room(): Promise<{ alice: TestClient; bob: TestClient }> {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2
    return { alice, bob };
  }

  it('should return the first stored message on a retry and deliver it only once', async () => {
    const { alice, bob } = await room();

    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'first',
      clientMsgId: 'cm-1',
    });
    const retry = await alice.request('room:message', {
      roomId: 'general',
      content: 'second',
      clientMsgId: 'cm-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message });
    const marker = await roomMarker(alice, 'general', [alice, bob]);
    expect(marker.seq).toBe((first.message.seq ?? 0) + 1);
    for (const c of [alice, bob]) {
      expect(c.received.filter(withId(first.message.id))).toHaveLength(1);
      expect(c.received.filter((m) => m.content === 'second')).toHaveLength(0);
    }
  });

  it('should return the first message whatever changed since and whatever the retry carries', async () => {
    const { alice, bob } = await room();
    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'once',
      clientMsgId: 'cm-2',
    });
    await alice.ok('room:leave', { roomId: 'general' });

    const sameRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'once',
      clientMsgId: 'cm-2',
    });
    const otherRoom = await alice.request('room:message', {
      roomId: 'game',
      content: 'x',
      clientMsgId: 'cm-2',
    });
    const unknownRoom = await alice.request('room:message', {
      roomId: 'nope',
      content: 'x',
      clientMsgId: 'cm-2',
    });

    expect(sameRoom).toEqual({ ok: true, message: first.message });
    expect(otherRoom).toEqual({ ok: true, message: first.message });
    expect(unknownRoom).toEqual({ ok: true, message: first.message });
    const marker = await roomMarker(bob, 'general', [bob]);
    expect(bob.received.filter(withId(first.message.id))).toHaveLength(1);
    expect(marker.seq).toBe(5); // 3: the message, 4: alice's leave
  });

  it('should be shared by room:message, private:message and memo:send', async () => {
    const { alice, bob } = await room();

    const roomFirst = await alice.ok('room:message', {
      roomId: 'general',
      content: 'r',
      clientMsgId: 'x-1',
    });
    const asPrivate = await alice.request('private:message', {
      to: 'bob',
      content: 'p',
      clientMsgId: 'x-1',
    });
    const asMemo = await alice.request('memo:send', {
      to: 'bob',
      content: 'm',
      clientMsgId: 'x-1',
    });
    const pmFirst = await alice.ok('private:message', {
      to: 'bob',
      content: 'p2',
      clientMsgId: 'x-2',
    });
    const pmAsRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'r2',
      clientMsgId: 'x-2',
    });
    const pmAsMemo = await alice.request('memo:send', {
      to: 'bob',
      content: 'm2',
      clientMsgId: 'x-2',
    });
    const memoFirst = await alice.ok('memo:send', { to: 'bob', content: 'm3', clientMsgId: 'x-3' });
    const memoAsRoom = await alice.request('room:message', {
      roomId: 'general',
      content: 'r3',
      clientMsgId: 'x-3',
    });
    const memoAsPrivate = await alice.request('private:message', {
      to: 'bob',
      content: 'p3',
      clientMsgId: 'x-3',
    });

    expect(data(asPrivate).message).toEqual(roomFirst.message);
    expect(data(asMemo).message).toEqual(roomFirst.message);
    expect(data(pmAsRoom).message).toEqual(pmFirst.message);
    expect(data(pmAsMemo).message).toEqual(pmFirst.message);
    expect(data(memoAsRoom).message).toEqual(memoFirst.message);
    expect(data(memoAsPrivate).message).toEqual(memoFirst.message);
    await roomMarker(alice, 'general', [alice, bob]);
    await memoMarker(alice, 'bob', [bob]);
    const contents = bob.received.map((m) => m.content);
    for (const never of ['p', 'm', 'r2', 'm2', 'r3', 'p3']) expect(contents).not.toContain(never);
    for (const once of ['r', 'p2', 'm3'])
      expect(contents.filter((c) => c === once)).toHaveLength(1);
  });

  it('should answer a memo retry with the first delivered flag and deliver nothing twice', async () => {
    const alice = await h.clients.as('alice', 'Alice');

    const first = await alice.ok('memo:send', {
      to: 'dave',
      content: 'while away',
      clientMsgId: 'memo-1',
    });
    expect(first.delivered).toBe(false);
    const dave = await h.clients.as('dave', 'Dave');
    await dave.waitFor(withId(first.message.id));
    const retry = await alice.request('memo:send', {
      to: 'dave',
      content: 'again',
      clientMsgId: 'memo-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message, delivered: false });
    await memoMarker(alice, 'dave', [dave]);
    expect(dave.received.filter(withId(first.message.id))).toHaveLength(1);
    expect(dave.received.filter((m) => m.content === 'again')).toHaveLength(0);
  });

  it('should scope ids to the user', async () => {
    const { alice, bob } = await room();

    const fromAlice = await alice.ok('room:message', {
      roomId: 'general',
      content: 'A',
      clientMsgId: 'same',
    });
    const fromBob = await bob.ok('room:message', {
      roomId: 'general',
      content: 'B',
      clientMsgId: 'same',
    });

    expect(fromBob.message.id).not.toBe(fromAlice.message.id);
    expect(fromBob.message).toMatchObject({ content: 'B', sender: { id: 'bob' } });
  });

  it('should recognise a retry from another socket of the same user', async () => {
    const { alice, bob } = await room();
    const alice2 = await h.clients.as('alice', 'Alice');
    const first = await alice.ok('room:message', {
      roomId: 'general',
      content: 'one',
      clientMsgId: 'tab-1',
    });

    const retry = await alice2.request('room:message', {
      roomId: 'general',
      content: 'one',
      clientMsgId: 'tab-1',
    });

    expect(retry).toEqual({ ok: true, message: first.message });
    await roomMarker(bob, 'general', [alice, alice2, bob]);
    for (const c of [alice, alice2, bob])
      expect(c.received.filter(withId(first.message.id))).toHaveLength(1);
  });

  it('should answer pipelined duplicates with one message', async () => {
    const { alice, bob } = await room();

    const replies = await Promise.all(
      [1, 2, 3].map(() =>
        alice.ok('room:message', { roomId: 'general', content: 'dup', clientMsgId: 'pipe' }),
      ),
    );

    expect(replies[1]?.message).toEqual(replies[0]?.message);
    expect(replies[2]?.message).toEqual(replies[0]?.message);
    await roomMarker(alice, 'general', [bob]);
    expect(bob.received.filter((m) => m.content === 'dup')).toHaveLength(1);
  });

  it.each([
    ['an empty id', ''],
    ['a space', 'has space'],
    ['65 chars', 'c'.repeat(65)],
    ['a non-ASCII letter', 'ü'],
    ['a slash', 'a/b'],
    ['a number', 42],
  ])('should refuse a clientMsgId with %s with INVALID_PAYLOAD', async (_label, clientMsgId) => {
    const { alice } = await room();

    expectError(
      await alice.request('room:message', { roomId: 'general', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('private:message', { to: 'bob', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('memo:send', { to: 'bob', content: 'x', clientMsgId }),
      'INVALID_PAYLOAD',
    );
  });

  it('should accept a UUID, 64 chars and every allowed punctuation', async () => {
    const { alice } = await room();

    for (const clientMsgId of [randomUUID(), 'c'.repeat(64), 'a:b.c_d-e']) {
      await alice.ok('room:message', { roomId: 'general', content: clientMsgId, clientMsgId });
    }
  });

  it('should still validate a retry before looking the id up', async () => {
    const { alice } = await room();
    await alice.ok('room:message', { roomId: 'general', content: 'ok', clientMsgId: 'v-1' });

    expectError(
      await alice.request('room:message', {
        roomId: 'general',
        content: '   ',
        clientMsgId: 'v-1',
      }),
      'INVALID_PAYLOAD',
    );
    expectError(
      await alice.request('room:message', {
        roomId: 'general',
        content: 'a\u0000',
        clientMsgId: 'v-1',
      }),
      'INVALID_PAYLOAD',
    );
  });
});

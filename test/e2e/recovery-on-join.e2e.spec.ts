/**
 * What room:join brings back (docs/PROTOCOL.md, "Client events", `room:join` `messages`): with
 * `since`, every retained event after it, oldest first, the joiner's own room_join last;
 * without, the last 50; `complete` false only when retention dropped events after `since`.
 * Recovery in pages through a slow link is in large-recovery.e2e.spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { fill, HIGH_RATE, joinOf, leaveOf, range, seqs, useApp } from '../support/e2e.js';

describe('room:join with since', () => {
  const h = useApp();

  it('should return every event after since, oldest first, the own room_join last', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'r' }); // seq 1
    await bob.ok('room:join', { roomId: 'r' }); // seq 2
    await bob.ok('room:leave', { roomId: 'r' }); // seq 3
    const left = await bob.waitFor(leaveOf('r', 'bob'));
    expect(left.seq).toBe(3);
    const sent = [
      (await alice.ok('room:message', { roomId: 'r', content: 'one' })).message,
      (await alice.ok('room:message', { roomId: 'r', content: 'two' })).message,
      (await alice.ok('room:message', { roomId: 'r', content: 'three' })).message,
    ];

    const reply = await bob.ok('room:join', { roomId: 'r', since: 3 });

    expect(reply.complete).toBe(true);
    expect(reply.messages).toHaveLength(4);
    expect(reply.messages.slice(0, 3)).toEqual(sent);
    expect(reply.messages[3]).toMatchObject({ type: 'room_join', seq: 7, user: { id: 'bob' } });
    expect(reply.messages[3]).toEqual(
      await bob.waitFor((m) => joinOf('r', 'bob')(m) && m.seq === 7),
    );
  });
});

describe('room:join with a long history', () => {
  const h = useApp(HIGH_RATE);

  it('should return the last 50 events without since, the own room_join last', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'busy' }); // seq 1
    await fill(alice, 'busy', 60); // seq 2..61

    const reply = await bob.ok('room:join', { roomId: 'busy' }); // seq 62

    expect(reply.complete).toBe(true);
    expect(seqs(reply.messages)).toEqual(range(13, 62));
    expect(reply.messages.at(-1)).toMatchObject({
      type: 'room_join',
      user: { id: 'bob', name: 'Bob' },
    });
  });

  it('should return every retained event after since, not only the last 50', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const carol = await h.clients.as('carol', 'Carol');
    await alice.ok('room:create', { roomId: 'busy' }); // seq 1
    await fill(alice, 'busy', 60); // seq 2..61

    const reply = await carol.ok('room:join', { roomId: 'busy', since: 0 }); // seq 62

    expect(reply.complete).toBe(true);
    expect(seqs(reply.messages)).toEqual(range(1, 62));
    expect(reply.messages.at(-1)).toMatchObject({ type: 'room_join', user: { id: 'carol' } });
  });
});

describe('room:join with a short retention', () => {
  const h = useApp({ HISTORY_MAX_PER_ROOM: '5' });

  it('should set complete to false only when events after since were dropped', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    const dave = await h.clients.as('dave', 'Dave');
    await alice.ok('room:create', { roomId: 'short' }); // seq 1
    await bob.ok('room:join', { roomId: 'short' }); // seq 2
    await bob.ok('room:leave', { roomId: 'short' }); // seq 3
    for (let i = 0; i < 10; i++)
      await alice.ok('room:message', { roomId: 'short', content: `m${i}` }); // 4..13

    const lagging = await bob.ok('room:join', { roomId: 'short', since: 3 }); // seq 14
    const recent = await carol.ok('room:join', { roomId: 'short', since: 13 }); // seq 15
    const fresh = await dave.ok('room:join', { roomId: 'short' }); // seq 16

    expect(lagging.complete).toBe(false);
    expect(lagging.messages.length).toBeLessThanOrEqual(5);
    expect(lagging.messages[0]?.seq).toBeGreaterThan(4);
    const laggingSeqs = seqs(lagging.messages);
    expect(laggingSeqs).toEqual(range(laggingSeqs[0] ?? 0, 14));
    expect(lagging.messages.at(-1)).toMatchObject({ type: 'room_join', user: { id: 'bob' } });

    expect(recent.complete).toBe(true);
    expect(seqs(recent.messages)).toEqual([14, 15]);

    expect(fresh.complete).toBe(true);
    expect(fresh.messages.length).toBeLessThanOrEqual(5);
    expect(fresh.messages.at(-1)).toMatchObject({
      type: 'room_join',
      seq: 16,
      user: { id: 'dave' },
    });
  });
});

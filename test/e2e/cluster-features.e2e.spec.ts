/**
 * One chat across instances: two (or three) real processes on one PostgreSQL schema and one
 * Redis prefix must behave as one service, whichever instance each client is connected to.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import { TestCluster } from '../support/cluster.js';
import { connectOf, disconnectOf, joinOf, withId } from '../support/e2e.js';
import { serviceAvailable } from '../support/services.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

/** The seqs of a room's persisted events one client received, in the order received. */
const seqsIn = (client: TestClient, roomId: string): number[] =>
  client.received.filter((m) => m.roomId === roomId && m.seq !== undefined).map((m) => m.seq!);

describeCluster('a cluster of instances as one chat', () => {
  const cluster = new TestCluster({
    instances: 2,
    env: {
      PRESENCE_GRACE_MS: '300',
      MAX_SOCKETS_PER_USER: '3',
      RATE_LIMIT_BURST: '40',
      RATE_LIMIT_PER_SECOND: '1',
    },
  });
  const [A, B] = [0, 1];
  const on = (instance: number, userId: string) => cluster.clients[instance].as(userId);

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster.stop();
  }, 30_000);

  it('should run room commands from any instance, with one gapless seq in one order for every member', async () => {
    const alice = await on(A, 'f1-alice');
    const bob = await on(B, 'f1-bob');
    const carol = await on(A, 'f1-carol');
    await alice.ok('room:create', { roomId: 'f1' });
    for (const member of [bob, carol]) await member.ok('room:join', { roomId: 'f1' });
    // Concurrent senders on both instances.
    const sends = await Promise.all(
      [alice, bob, carol].map(async (sender) => {
        const mine: ChatMessage[] = [];
        for (let i = 0; i < 15; i++) {
          const { message } = await sender.ok('room:message', { roomId: 'f1', content: `${i}` });
          mine.push(message);
        }
        return mine;
      }),
    );
    const last = Math.max(...sends.flat().map((m) => m.seq!));
    for (const member of [alice, bob, carol]) {
      await member.waitFor((m) => m.roomId === 'f1' && m.seq === last, 10_000);
    }
    // Every member saw the same sequence; each sender's messages in the order it sent them.
    const seen = seqsIn(alice, 'f1');
    expect(seqsIn(bob, 'f1')).toEqual(seen.filter((seq) => seq >= seqsIn(bob, 'f1')[0]));
    expect(seqsIn(carol, 'f1')).toEqual(seen.filter((seq) => seq >= seqsIn(carol, 'f1')[0]));
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    for (const mine of sends) {
      const order = mine.map((m) => m.seq!);
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    // Recovery with since is exact on either instance.
    const late = await on(B, 'f1-dave');
    const { messages } = await late.ok('room:join', { roomId: 'f1', since: 10 });
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: last - 9 }, (_, i) => i + 11));
  }, 30_000);

  it('should keep room ids unique across instances: one create wins, the other is ALREADY_EXISTS', async () => {
    const x = await on(A, 'f2-x');
    const y = await on(B, 'f2-y');
    const replies = await Promise.all([
      x.request('room:create', { roomId: 'f2' }),
      y.request('room:create', { roomId: 'f2' }),
    ]);
    const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code)).sort();
    expect(codes).toEqual(['ALREADY_EXISTS', 'ok']);
    // Both instances list it, with its one member.
    for (const client of [x, y]) {
      const { rooms } = await client.ok('room:list');
      expect(rooms.find((room) => room.id === 'f2')).toMatchObject({ members: 1 });
    }
  });

  it('should answer a retry of a clientMsgId with the original, across instances and racing it', async () => {
    const onA = await on(A, 'f3-erin');
    const onB = await on(B, 'f3-erin');
    await onA.ok('room:create', { roomId: 'f3' });
    const [first, second] = await Promise.all([
      onA.ok('room:message', { roomId: 'f3', content: 'once', clientMsgId: 'f3-1' }),
      onB.ok('room:message', { roomId: 'f3', content: 'once?', clientMsgId: 'f3-1' }),
    ]);
    expect(second.message.id).toBe(first.message.id);
    const { messages } = await onB.ok('room:history', { roomId: 'f3' });
    expect(messages.filter((m) => m.type === 'room_chat')).toHaveLength(1);
    // Other senders are never failed by it.
    const { message } = await onB.ok('room:message', { roomId: 'f3', content: 'next' });
    expect(message.seq).toBe(first.message.seq! + 1);
  });

  it('should announce a user once however many instances its sockets are on', async () => {
    const watchA = await on(A, 'f4-watch-a');
    const watchB = await on(B, 'f4-watch-b');
    const first = await on(A, 'f4-gus');
    const second = await on(B, 'f4-gus');
    for (const watcher of [watchA, watchB]) await watcher.waitFor(connectOf('f4-gus'));
    for (const client of [watchA, watchB]) {
      const { users } = await client.ok('user:list');
      expect(users.map((u) => u.id)).toContain('f4-gus');
    }
    first.close();
    // Still online on B: a message to it goes through, nobody hears it left.
    const { message } = await watchA.ok('private:message', { to: 'f4-gus', content: 'there?' });
    await second.waitFor(withId(message.id));
    second.close();
    for (const watcher of [watchA, watchB]) await watcher.waitFor(disconnectOf('f4-gus'), 5000);
    const marker = await watchA.ok('private:message', { to: 'f4-watch-b', content: 'marker' });
    await watchB.waitFor(withId(marker.message.id));
    for (const watcher of [watchA, watchB]) {
      expect(watcher.received.filter(connectOf('f4-gus'))).toHaveLength(1);
      expect(watcher.received.filter(disconnectOf('f4-gus'))).toHaveLength(1);
    }
    expect(
      await watchB.request('private:message', { to: 'f4-gus', content: 'gone' }),
    ).toMatchObject({ ok: false, error: { code: 'USER_OFFLINE' } });
  });

  it('should count MAX_SOCKETS_PER_USER and send rates across instances', async () => {
    await on(A, 'f5-hal');
    await on(A, 'f5-hal');
    const third = await on(B, 'f5-hal');
    expect(await cluster.clients[B].refused({ userId: 'f5-hal' })).toBe('TOO_MANY_SOCKETS');
    // 40 at once across both instances, not 40 on each.
    const fourth = await on(A, 'f5-ivy');
    const codes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 === 0 ? third : fourth)
          .request('memo:send', { to: 'f5-nobody', content: `${i}` })
          .then((reply) => (reply.ok ? 'ok' : reply.error.code)),
      ),
    );
    // hal and ivy are two users: each has a bucket of its own...
    expect(codes.filter((c) => c === 'ok')).toHaveLength(50);
    const halOnA = cluster.clients[A];
    const hal2 = await halOnA.as('f5-jo');
    const hal3 = await cluster.clients[B].as('f5-jo');
    const spread = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 === 0 ? hal2 : hal3)
          .request('memo:send', { to: 'f5-nobody', content: `${i}` })
          .then((reply) => (reply.ok ? 'ok' : reply.error.code)),
      ),
    );
    // ...and one user's bucket is one, whichever instance its sockets are on.
    expect(spread.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(40);
    expect(spread.filter((c) => c === 'ok').length).toBeLessThanOrEqual(42);
    expect(spread.filter((c) => c !== 'ok').every((c) => c === 'RATE_LIMITED')).toBe(true);
  });

  it('should deliver private messages and memos to a user on any instance, and store memos only with no socket anywhere', async () => {
    const kim = await on(A, 'f6-kim');
    const lee = await on(B, 'f6-lee');
    const { message: pm } = await kim.ok('private:message', { to: 'f6-lee', content: 'hi' });
    await lee.waitFor(withId(pm.id));
    const live = await kim.ok('memo:send', { to: 'f6-lee', content: 'memo' });
    expect(live.delivered).toBe(true);
    await lee.waitFor(withId(live.message.id));
    const stored = await kim.ok('memo:send', { to: 'f6-max', content: 'for later' });
    expect(stored.delivered).toBe(false);
    const max = await on(B, 'f6-max');
    await max.waitFor(withId(stored.message.id));
    // Once, not once per instance.
    const marker = await kim.ok('private:message', { to: 'f6-max', content: 'marker' });
    await max.waitFor(withId(marker.message.id));
    expect(max.received.filter(withId(stored.message.id))).toHaveLength(1);
  });

  it('should give the same admin answers on every instance', async () => {
    const nia = await on(A, 'f7-nia');
    await nia.ok('room:create', { roomId: 'f7' });
    const put = (i: number) =>
      fetch(`${cluster.url(i)}/api/rooms/f7-admin`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Admin room' }),
      });
    const statuses = (await Promise.all([put(A), put(B)])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 201]);
    // Place a user connected to A into a room, from B.
    const placed = await fetch(`${cluster.url(B)}/api/rooms/f7-admin/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'f7-nia' }),
    });
    expect(placed.status).toBe(204);
    await nia.waitFor(joinOf('f7-admin', 'f7-nia'));
    const snapshots = await Promise.all(
      [A, B].map(async (i) => (await fetch(`${cluster.url(i)}/api/snapshot`)).json()),
    );
    type Snapshot = { users: Array<{ id: string; rooms: string[] }>; rooms: unknown[] };
    const [a, b] = snapshots as [Snapshot, Snapshot];
    const niaOn = (s: Snapshot) => s.users.find((u) => u.id === 'f7-nia')?.rooms.sort();
    expect(niaOn(a)).toEqual(['f7', 'f7-admin']);
    expect(niaOn(b)).toEqual(niaOn(a));
    expect(b.rooms).toEqual(a.rooms);
    const closed = await fetch(`${cluster.url(B)}/api/rooms/f7`, { method: 'DELETE' });
    expect(closed.status).toBe(204);
    expect(await nia.request('room:message', { roomId: 'f7', content: '?' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
  });

  it('should edit, react, delete, mark read and block across instances, as one chat', async () => {
    const owner = await on(A, 'f8-owner');
    const bob = await on(B, 'f8-bob');
    await owner.ok('room:create', { roomId: 'f8' }); // served by A
    await bob.ok('room:join', { roomId: 'f8' });
    const { message } = await bob.ok('room:message', { roomId: 'f8', content: 'frist' });
    const target = message.seq!;

    // From B, to the room on A: the edit, with its clientMsgId retry, and a reaction.
    const edit = { roomId: 'f8', seq: target, content: 'first', clientMsgId: 'f8-edit' };
    const [edited, again] = await Promise.all([
      bob.ok('room:edit', edit),
      bob.ok('room:edit', edit),
    ]);
    expect(again.message).toEqual(edited.message);
    await owner.ok('room:react', { roomId: 'f8', seq: target, emoji: '👍' });
    expect(await bob.ok('room:react', { roomId: 'f8', seq: target, emoji: '👍' })).toHaveProperty(
      'message',
    );
    expect(await bob.ok('room:react', { roomId: 'f8', seq: target, emoji: '👍' })).toEqual({
      ok: true,
    });
    const { messages, asOf } = await bob.ok('room:history', { roomId: 'f8' });
    expect(messages.find((m) => m.seq === target)).toMatchObject({
      content: 'first',
      edited: true,
      reactions: { '👍': 2 },
      myReactions: ['👍'],
    });
    for (const member of [owner, bob]) {
      await member.waitFor((m) => m.roomId === 'f8' && m.seq === asOf);
      const changes = member.received.filter((m) => m.roomId === 'f8' && m.target === target);
      expect(changes.map((m) => m.type)).toEqual(['room_edit', 'room_reaction', 'room_reaction']);
    }

    // Read on B: the receipt reaches the owner on A; room:list on either instance agrees.
    expect(await bob.ok('room:read', { roomId: 'f8', seq: asOf })).toEqual({
      ok: true,
      lastRead: asOf,
    });
    expect(
      await owner.waitForEvent('read', (e) => e.roomId === 'f8' && e.user.id === 'f8-bob'),
    ).toEqual({ roomId: 'f8', user: { id: 'f8-bob', name: 'f8-bob' }, seq: asOf });
    await owner.ok('room:message', { roomId: 'f8', content: 'unread by bob' });
    const bobOnA = await on(A, 'f8-bob');
    for (const client of [bob, bobOnA]) {
      const { rooms } = await client.ok('room:list');
      expect(rooms.find((r) => r.id === 'f8')).toMatchObject({ lastRead: asOf, unread: 1 });
    }

    // The owner (on A) blocks bob: refused on B too; the admin API deletes from B.
    await owner.ok('user:block', { userId: 'f8-bob' });
    for (const event of ['private:message', 'memo:send'] as const) {
      expect(await bob.request(event, { to: 'f8-owner', content: 'hey' })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });
    }
    const deleted = await fetch(`${cluster.url(B)}/api/rooms/f8/messages/${target}`, {
      method: 'DELETE',
    });
    expect(deleted.status).toBe(204);
    expect(await owner.waitFor((m) => m.type === 'room_delete')).toMatchObject({
      target,
      sender: { id: 'system' },
    });
  });
});

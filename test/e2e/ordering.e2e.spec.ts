/**
 * Ordering guarantees (docs/PROTOCOL.md): each room's persisted events carry gapless seqs in
 * the one order every member receives them; one socket's messages keep the order it sent
 * them in; a socket's events are handled in the order it sent them.
 */
import { describe, expect, it } from '@jest/globals';
import type { ChatMessage, Reply } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import { useApp } from '../support/e2e.js';

const inRoom = (roomId: string) => (m: ChatMessage) => m.roomId === roomId && m.seq !== undefined;
const chatIn = (roomId: string) => (m: ChatMessage) =>
  m.type === 'room_chat' && m.roomId === roomId;

function expectGapless(seqs: number[]): void {
  const first = seqs[0] ?? 1;
  expect(seqs).toEqual(seqs.map((_, i) => first + i));
}

function okMessage(reply: Reply<{ message: ChatMessage }>): ChatMessage {
  if (!reply.ok) throw new Error(`refused: ${reply.error.code} ${reply.error.message}`);
  return reply.message;
}

describe('room ordering', () => {
  const h = useApp();

  it('should give every member the same gapless seq order with several senders at once', async () => {
    const names = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const senders: TestClient[] = [];
    for (const name of names) senders.push(await h.clients.as(name));
    const watcher = await h.clients.as('watcher');
    await senders[0]?.ok('room:create', { roomId: 'arena' });
    for (const c of [...senders.slice(1), watcher]) await c.ok('room:join', { roomId: 'arena' });
    const members = [...senders, watcher];
    const perSender = 40;

    const sent = senders.map((c, s) =>
      Array.from({ length: perSender }, (_, i) =>
        c.request('room:message', { roomId: 'arena', content: `${names[s]}#${i}` }),
      ),
    );
    const acks = await Promise.all(sent.map((replies) => Promise.all(replies)));

    const total = names.length * perSender;
    const views = await Promise.all(
      members.map((c) => c.waitForCount(chatIn('arena'), total, 8000)),
    );
    const reference = views[0]?.map((m) => m.id);
    for (const view of views) {
      expect(view.map((m) => m.id)).toEqual(reference);
    }
    for (const c of members) {
      // Everything the room persisted since this member joined: gapless, in seq order.
      expectGapless(c.received.filter(inRoom('arena')).map((m) => m.seq ?? -1));
    }
    const chats = views[0] ?? [];
    expectGapless(chats.map((m) => m.seq ?? -1));
    expect(chats[0]?.seq).toBe(names.length + 2); // after the five joins and the watcher's
    for (const [s, name] of names.entries()) {
      const own = chats.filter((m) => m.sender.id === name).map((m) => m.content);
      expect(own).toEqual(Array.from({ length: perSender }, (_, i) => `${name}#${i}`));
      const ackSeqs = (acks[s] ?? []).map((r) => okMessage(r).seq ?? -1);
      expect(ackSeqs).toEqual([...ackSeqs].sort((a, b) => a - b));
      expect(new Set(ackSeqs).size).toBe(perSender);
    }
    const { messages } = await watcher.ok('room:history', { roomId: 'arena', limit: 200 });
    expect(messages.map((m) => m.id)).toEqual(reference);
  });

  it('should keep one socket order across rooms when it alternates between them', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('room:join', { roomId: 'dev' });
    await bob.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'dev' });

    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        alice.request('room:message', {
          roomId: i % 2 === 0 ? 'general' : 'dev',
          content: `n${i}`,
        }),
      ),
    );

    expect(replies.every((r) => r.ok)).toBe(true);
    for (const [roomId, parity] of [
      ['general', 0],
      ['dev', 1],
    ] as const) {
      const got = await bob.waitForCount(chatIn(roomId), 20);
      expect(got.map((m) => m.content)).toEqual(
        Array.from({ length: 20 }, (_, k) => `n${2 * k + parity}`),
      );
      expectGapless(got.map((m) => m.seq ?? -1));
    }
  });
});

describe('per-socket event order', () => {
  const h = useApp();

  it('should handle a join and a message emitted back to back in that order', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await bob.ok('room:join', { roomId: 'general' });

    const [join, message] = await Promise.all([
      alice.request('room:join', { roomId: 'general' }),
      alice.request('room:message', { roomId: 'general', content: 'right after joining' }),
    ]);

    expect(join.ok).toBe(true);
    expect(okMessage(message).seq).toBe(3);
    const atBob = await bob.waitForCount(inRoom('general'), 3);
    expect(atBob.map((m) => m.type)).toEqual(['room_join', 'room_join', 'room_chat']);
  });

  it('should handle create, message, leave, message, join, message in the order sent', async () => {
    const alice = await h.clients.as('alice');

    const replies = await Promise.all([
      alice.request('room:create', { roomId: 'quick' }),
      alice.request('room:message', { roomId: 'quick', content: 'first' }),
      alice.request('room:leave', { roomId: 'quick' }),
      alice.request('room:message', { roomId: 'quick', content: 'lost' }),
      alice.request('room:join', { roomId: 'quick', since: 0 }),
      alice.request('room:message', { roomId: 'quick', content: 'second' }),
      alice.request('room:history', { roomId: 'quick' }),
    ]);

    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'NOT_MEMBER',
      'ok',
      'ok',
      'ok',
    ]);
    const history = replies[6];
    if (!history?.ok || !('messages' in history)) throw new Error('no history');
    expect(
      history.messages.map(
        (m) => `${m.type}:${m.content === 'first' || m.content === 'second' ? m.content : ''}`,
      ),
    ).toEqual(['room_join:', 'room_chat:first', 'room_leave:', 'room_join:', 'room_chat:second']);
  });

  it('should deliver one socket\u2019s private messages in the order sent', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');

    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        alice.request('private:message', { to: 'bob', content: `p${i}` }),
      ),
    );

    expect(replies.every((r) => r.ok)).toBe(true);
    const got = await bob.waitForCount((m) => m.type === 'private_chat', 30);
    expect(got.map((m) => m.content)).toEqual(Array.from({ length: 30 }, (_, i) => `p${i}`));
  });
});

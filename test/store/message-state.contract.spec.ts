/**
 * Contract v2 in every store (memory, SQLite, PostgreSQL): a message's state (edits,
 * deletion, reactions) changes in the transaction of the event that changes it, replies read
 * it with `asOf` in one view, read marks only move forward, blocks and all of it survive a
 * restart, retention and closing a room take the state with them.
 */
import { describe, expect, it } from '@jest/globals';
import type { ChatMessage, UserRef } from '../../src/contract/events.js';
import { createMessage } from '../../src/contract/messages.js';
import type { RoomRecord } from '../../src/store/message-store.js';
import { storeKits, useStore } from '../support/store-kits.js';

const HISTORY_MAX = 10;
const kits = await storeKits(
  { historyMaxPerRoom: HISTORY_MAX, sendTtlMs: 60_000 },
  { schemaPrefix: 'chat_state' },
);

const alice: UserRef = { id: 'alice', name: '앨리스' };
const bob: UserRef = { id: 'bob', name: 'Bob' };

const room = (id: string): RoomRecord => ({
  id,
  name: `Room ${id}`,
  private: false,
  createdAt: new Date().toISOString(),
});

/** Builds a room's events with consecutive seqs. */
class Events {
  #seq = 0;
  constructor(readonly roomId: string) {}

  chat(sender: UserRef, content = `message ${this.#seq + 1}`): ChatMessage {
    return createMessage('room_chat', { roomId: this.roomId, seq: ++this.#seq, sender, content });
  }
  join(user: UserRef): ChatMessage {
    const { roomId } = this;
    return createMessage('room_join', { roomId, seq: ++this.#seq, user, content: 'joined' });
  }
  edit(sender: UserRef, target: number, content: string): ChatMessage {
    const { roomId } = this;
    return createMessage('room_edit', { roomId, seq: ++this.#seq, sender, content, target });
  }
  delete(sender: UserRef, target: number): ChatMessage {
    const { roomId } = this;
    return createMessage('room_delete', { roomId, seq: ++this.#seq, sender, content: '', target });
  }
  react(user: UserRef, target: number, emoji: string, on = true): ChatMessage {
    return createMessage('room_reaction', {
      roomId: this.roomId,
      seq: ++this.#seq,
      sender: user,
      user,
      content: '',
      target,
      emoji,
      on,
    });
  }
}

describe.each(kits)('message state: %s', (_name, makeKit) => {
  const h = useStore(makeKit);

  async function append(...events: ChatMessage[]): Promise<void> {
    for (const event of events) await h.sut.appendRoomEvent(event);
  }

  it('should show each message with its latest edit, deletion and reactions, as of the room’s last seq', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    const first = r.chat(alice, 'first'); // 1
    const second = r.chat(bob, 'second'); // 2
    await append(first, second);
    const edit1 = r.edit(alice, 1, 'first, fixed'); // 3
    const edit2 = r.edit(alice, 1, 'first, fixed again'); // 4
    await append(edit1, edit2, r.react(bob, 1, '👍'), r.react(alice, 1, '👍')); // 5, 6
    await append(r.react(alice, 1, '🎉'), r.react(bob, 2, '👍'), r.delete(bob, 2)); // 7, 8, 9

    const forAlice = await h.sut.roomPage('r1', { before: 100, limit: 50 }, 'alice');

    expect(forAlice.asOf).toBe(9);
    expect(forAlice.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(forAlice.events[0]).toEqual({
      ...first,
      content: 'first, fixed again',
      edited: true,
      editedAt: edit2.timestamp,
      reactions: { '👍': 2, '🎉': 1 },
      myReactions: ['👍', '🎉'],
    });
    // Deleted: empty content and nothing else; its reactions went with it.
    expect(forAlice.events[1]).toEqual({ ...second, content: '', deleted: true });
    // The v2 events keep their own fields.
    expect(forAlice.events[2]).toEqual(edit1);
    const forBob = await h.sut.roomPage('r1', { before: 2, limit: 1 }, 'bob');
    expect(forBob.events).toHaveLength(1);
    expect(forBob.events[0]).toMatchObject({
      reactions: { '👍': 2, '🎉': 1 },
      myReactions: ['👍'],
    });
    // The state of a page's messages includes events after the page.
    expect(forBob.asOf).toBe(9);
  });

  it('should take a reaction back, and count only what remains', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    await append(r.chat(alice), r.react(bob, 1, '+1'), r.react(bob, 1, '+1', false));

    const page = await h.sut.roomPage('r1', { after: 0, upTo: 3 }, 'bob');

    expect(page.events[0]).not.toHaveProperty('reactions');
    expect(page.events[0]).not.toHaveProperty('myReactions');
    const state = await h.sut.messageState('r1', 1);
    expect(state?.reactions.size).toBe(0);
  });

  it('should give a room the state it needs to decide: sender, time, deletion, who reacted', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    const message = r.chat(alice);
    await append(message, r.join(bob), r.react(bob, 1, '👀'), r.react(alice, 1, '👀'));

    const state = await h.sut.messageState('r1', 1);

    expect(state).toEqual({
      sender: 'alice',
      sentAt: Date.parse(message.timestamp),
      deleted: false,
      reactions: new Map([['👀', new Set(['bob', 'alice'])]]),
    });
    // Not a room_chat, not there, not this room.
    expect(await h.sut.messageState('r1', 2)).toBeUndefined();
    expect(await h.sut.messageState('r1', 99)).toBeUndefined();
    expect(await h.sut.messageState('r2', 1)).toBeUndefined();
    await append(r.delete(alice, 1));
    expect((await h.sut.messageState('r1', 1))?.deleted).toBe(true);
  });

  it('should keep the state of a message whose events retention dropped, and drop it with the message', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    await append(r.chat(alice, 'keep me'), r.edit(alice, 1, 'edited'), r.react(bob, 1, '👍'));
    // Fill the history up to its limit: the message is still retained.
    for (let i = 0; i < HISTORY_MAX - 3; i++) await append(r.chat(bob));
    let page = await h.sut.roomPage('r1', { before: 100, limit: 50 }, 'bob');
    expect(page.events[0]).toMatchObject({ seq: 1, content: 'edited', reactions: { '👍': 1 } });

    await append(r.chat(bob)); // seq HISTORY_MAX + 1: seq 1 is dropped

    page = await h.sut.roomPage('r1', { before: 100, limit: 50 }, 'bob');
    expect(page.events[0].seq).toBe(2);
    expect(await h.sut.messageState('r1', 1)).toBeUndefined();
    const after = await h.sut.roomPage('r1', { after: 0, upTo: HISTORY_MAX + 1 }, 'bob');
    expect(after.complete).toBe(false);
    expect(after.asOf).toBe(HISTORY_MAX + 1);
  });

  it('should count unread messages of others after the read mark, for many rooms in one call', async () => {
    await h.sut.createRoom(room('r1'));
    await h.sut.createRoom(room('r2'));
    const r1 = new Events('r1');
    await append(r1.join(alice), r1.chat(bob), r1.chat(alice), r1.chat(bob), r1.chat(bob)); // 1-5
    await append(r1.edit(bob, 2, 'x'), r1.react(bob, 2, '👍'), r1.delete(bob, 5)); // 6-8

    let states = await h.sut.readStates('alice', ['r1', 'r2', 'nowhere']);

    // Bob's 2 and 4 (5 is deleted, 3 is alice's own; joins, edits, reactions never count).
    expect(states.get('r1')).toEqual({ lastRead: 0, unread: 2 });
    expect(states.get('r2')).toEqual({ lastRead: 0, unread: 0 });
    expect(states.get('nowhere')).toEqual({ lastRead: 0, unread: 0 });
    await h.sut.saveReadMarks([{ roomId: 'r1', userId: 'alice', seq: 3 }]);
    states = await h.sut.readStates('alice', ['r1']);
    expect(states.get('r1')).toEqual({ lastRead: 3, unread: 1 });
    expect((await h.sut.readStates('bob', ['r1'])).get('r1')).toEqual({ lastRead: 0, unread: 1 });
  });

  it('should never move a read mark back, and keep marks and blocks across a restart', async () => {
    await h.sut.createRoom(room('r1'));
    await h.sut.saveReadMarks([
      { roomId: 'r1', userId: 'alice', seq: 7 },
      { roomId: 'r1', userId: 'bob', seq: 2 },
    ]);
    await h.sut.saveReadMarks([{ roomId: 'r1', userId: 'alice', seq: 4 }]);
    await Promise.all([
      h.sut.setBlock('alice', 'bob', true),
      h.sut.setBlock('alice', 'carol', true),
      h.sut.setBlock('alice', 'carol', true),
      h.sut.setBlock('bob', 'alice', true),
    ]);
    await h.sut.setBlock('bob', 'alice', false);

    await h.reopen();

    const states = await h.sut.readStates('alice', ['r1']);
    expect(states.get('r1')?.lastRead).toBe(7);
    expect((await h.sut.readStates('bob', ['r1'])).get('r1')?.lastRead).toBe(2);
    expect(await h.sut.readMark('r1', 'alice')).toBe(7);
    expect(await h.sut.readMark('r1', 'carol')).toBe(0);
    expect((await h.sut.blocksOf('alice')).sort()).toEqual(['bob', 'carol']);
    expect(await h.sut.blocks('alice', 'bob')).toBe(true);
    expect(await h.sut.blocks('bob', 'alice')).toBe(false);
    expect(await h.sut.blocksOf('bob')).toEqual([]);
  });

  it('should keep edits, deletions and reactions across a restart', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    await append(r.chat(alice), r.chat(bob), r.edit(alice, 1, 'new'), r.react(bob, 1, '🙂'));
    await append(r.delete(bob, 2));

    await h.reopen();

    const page = await h.sut.roomPage('r1', { before: 100, limit: 50 }, 'bob');
    expect(page.events[0]).toMatchObject({
      content: 'new',
      edited: true,
      reactions: { '🙂': 1 },
      myReactions: ['🙂'],
    });
    expect(page.events[1]).toMatchObject({ content: '', deleted: true });
    expect((await h.sut.loadRooms())[0].lastSeq).toBe(5);
  });

  it('should forget a closed room’s state and read marks: its id starts afresh', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    await append(r.chat(bob), r.react(alice, 1, '👍'));
    await h.sut.saveReadMarks([{ roomId: 'r1', userId: 'alice', seq: 2 }]);

    await h.sut.deleteRoom('r1');
    await h.sut.createRoom(room('r1'));
    const again = new Events('r1');
    await append(again.chat(bob));

    const page = await h.sut.roomPage('r1', { before: 100, limit: 50 }, 'alice');
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).not.toHaveProperty('reactions');
    expect((await h.sut.readStates('alice', ['r1'])).get('r1')).toEqual({
      lastRead: 0,
      unread: 1,
    });
  });

  it('should keep no read mark for a room that is gone, and count an emoji named __proto__', async () => {
    await h.sut.saveReadMarks([{ roomId: 'gone', userId: 'alice', seq: 5 }]);
    await h.sut.createRoom(room('gone'));
    expect(await h.sut.readMark('gone', 'alice')).toBe(0);
    const r = new Events('gone');
    await append(r.chat(bob), r.react(alice, 1, '__proto__'));
    const page = await h.sut.roomPage('gone', { before: 100, limit: 50 }, 'alice');
    expect(Object.keys(page.events[0].reactions ?? {})).toEqual(['__proto__']);
    expect(page.events[0].myReactions).toEqual(['__proto__']);
  });

  it('should cut a recovery page to its budget and say there is more, with asOf', async () => {
    await h.sut.createRoom(room('r1'));
    const r = new Events('r1');
    await append(r.chat(alice), r.chat(alice), r.chat(alice), r.edit(alice, 1, 'e'));

    const page = await h.sut.roomPage(
      'r1',
      { after: 0, upTo: 4, budget: { limit: 2, maxBytes: 1_000_000 } },
      'alice',
    );

    expect(page.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(page.more).toBe(true);
    expect(page.complete).toBe(true);
    expect(page.events[0]).toMatchObject({ content: 'e', edited: true });
    expect(page.asOf).toBe(4);
  });
});

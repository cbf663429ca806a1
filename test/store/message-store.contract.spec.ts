/**
 * One contract, every store: memory, SQLite (a temporary file) and PostgreSQL (the real
 * server, in a schema of its own that is dropped afterwards).
 */
import { describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import { createMessage } from '../../src/contract/messages.js';
import type { RoomRecord } from '../../src/store/message-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres.store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite.store.js';
import { storeKits, useStore } from '../support/store-kits.js';

const HISTORY_MAX = 5;
const retention = { historyMaxPerRoom: HISTORY_MAX, sendTtlMs: 60_000 };

const kits = await storeKits(retention, { schemaPrefix: 'chat_contract' });

const room = (id: string, extra: Partial<RoomRecord> = {}): RoomRecord => ({
  id,
  name: `Room ${id}`,
  private: false,
  createdAt: new Date().toISOString(),
  ...extra,
});

const alice = { id: 'alice', name: '앨리스' };

function chat(roomId: string, seq: number, content = `message ${seq}`): ChatMessage {
  return createMessage('room_chat', { roomId, seq, sender: alice, content });
}

describe.each(kits)('MessageStore contract: %s', (_name, makeKit) => {
  const h = useStore(makeKit);

  it('should keep a room’s events in seq order and page them both ways', async () => {
    await h.sut.createRoom(room('r1'));
    await Promise.all([1, 2, 3, 4].map((seq) => h.sut.appendRoomEvent(chat('r1', seq))));
    const after = await h.sut.eventsAfter('r1', 1, 3);
    expect(after.events.map((e) => e.seq)).toEqual([2, 3]);
    expect(after.complete).toBe(true);
    const before = await h.sut.eventsBefore('r1', 4, 2);
    expect(before.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('should refuse a seq that does not follow the last one, without failing the others', async () => {
    await h.sut.createRoom(room('r1'));
    await h.sut.createRoom(room('r2'));
    const results = await Promise.allSettled([
      h.sut.appendRoomEvent(chat('r1', 1)),
      h.sut.appendRoomEvent(chat('r2', 5)), // a gap
      h.sut.appendRoomEvent(chat('r1', 2)),
      h.sut.appendRoomEvent(chat('r1', 2)), // a repeat
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
    ]);
    expect((await h.sut.eventsBefore('r1', 100, 50)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('should keep only HISTORY_MAX_PER_ROOM events and say when a cursor fell behind', async () => {
    await h.sut.createRoom(room('r1'));
    for (let seq = 1; seq <= 8; seq++) await h.sut.appendRoomEvent(chat('r1', seq));
    expect((await h.sut.eventsBefore('r1', 100, 50)).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect((await h.sut.eventsAfter('r1', 1, 8)).complete).toBe(false);
    expect((await h.sut.eventsAfter('r1', 3, 8)).complete).toBe(true);
  });

  it('should store text verbatim: scripts, emoji, spacing and odd keys', async () => {
    await h.sut.createRoom(room('r1'));
    const content = '  철수 says 👋🏽\t"quoted" \\ back\nslash  ';
    const event = chat('r1', 1, content);
    (event as unknown as Record<string, unknown>)['__proto__'] = { polluted: true };
    await h.sut.appendRoomEvent(event);
    await h.reopen();
    const [stored] = await h.sut.eventsBefore('r1', 10, 10);
    expect(stored.content).toBe(content);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('should remember rooms, their last seq, owners and invitations', async () => {
    await h.sut.createRoom(room('r1', { private: true, owner: 'alice' }));
    await h.sut.createRoom(room('r2'));
    await h.sut.appendRoomEvent(chat('r1', 1));
    await h.sut.addInvite('r1', 'bob');
    await h.sut.addInvite('r1', 'carol');
    await h.sut.removeInvite('r1', 'carol');
    await h.reopen();
    const rooms = await h.sut.loadRooms();
    const r1 = rooms.find((r) => r.id === 'r1');
    expect(r1).toMatchObject({ private: true, owner: 'alice', lastSeq: 1, invited: ['bob'] });
    expect(rooms.find((r) => r.id === 'r2')).toMatchObject({ private: false, lastSeq: 0 });
    expect(rooms.find((r) => r.id === 'r2')).not.toHaveProperty('owner');
  });

  it('should forget a deleted room entirely so its id starts afresh at seq 1', async () => {
    await h.sut.createRoom(room('r1', { private: true }));
    await h.sut.appendRoomEvent(chat('r1', 1));
    await h.sut.addInvite('r1', 'bob');
    await h.sut.deleteRoom('r1');
    await h.sut.createRoom(room('r1'));
    await h.sut.appendRoomEvent(chat('r1', 1, 'new life'));
    await h.reopen();
    expect((await h.sut.eventsBefore('r1', 100, 50)).map((e) => e.content)).toEqual(['new life']);
    expect((await h.sut.loadRooms()).find((r) => r.id === 'r1')).toMatchObject({ invited: [] });
  });

  it('should answer a clientMsgId with the first message sent under it', async () => {
    await h.sut.createRoom(room('r1'));
    const first = chat('r1', 1, 'first');
    await h.sut.appendRoomEvent(first, { userId: 'alice', clientMsgId: 'c-1', message: first });
    const memo = createMessage('instant_message', {
      sender: alice,
      recipient: { id: 'bob', name: 'bob' },
      content: 'memo',
    });
    await h.sut.addMemo(memo, {
      userId: 'alice',
      clientMsgId: 'c-2',
      message: memo,
      delivered: false,
    });
    await h.reopen();
    expect(await h.sut.findSend('alice', 'c-1')).toEqual({
      userId: 'alice',
      clientMsgId: 'c-1',
      message: first,
    });
    expect(await h.sut.findSend('alice', 'c-2')).toMatchObject({ delivered: false });
    expect(await h.sut.findSend('bob', 'c-1')).toBeUndefined();
    const again = chat('r1', 2, 'again');
    await expect(
      h.sut.appendRoomEvent(again, { userId: 'alice', clientMsgId: 'c-1', message: again }),
    ).rejects.toThrow();
  });

  it('should keep memos for a user until they are deleted, oldest first', async () => {
    const memos = ['one', 'two', 'three'].map((content) =>
      createMessage('instant_message', {
        sender: alice,
        recipient: { id: 'bob', name: 'bob' },
        content,
      }),
    );
    for (const memo of memos) await h.sut.addMemo(memo);
    await h.reopen();
    expect(await contentsOfMemos('bob')).toEqual(['one', 'two', 'three']);
    await h.sut.deleteMemos([memos[0].id, memos[2].id]);
    expect(await contentsOfMemos('bob')).toEqual(['two']);
    expect(await h.sut.pendingMemos('alice', 0, 100)).toEqual([]);
  });

  it('should page memos by position, each page after the last position of the one before', async () => {
    for (let i = 1; i <= 5; i++) {
      await h.sut.addMemo(
        createMessage('instant_message', {
          sender: alice,
          recipient: { id: 'bob', name: 'bob' },
          content: `memo ${i}`,
        }),
      );
    }
    const first = await h.sut.pendingMemos('bob', 0, 2);
    expect(first.map((p) => p.memo.content)).toEqual(['memo 1', 'memo 2']);
    expect(first[0].bytes).toBeGreaterThan('memo 1'.length);
    const second = await h.sut.pendingMemos('bob', first[1].position, 2);
    expect(second.map((p) => p.memo.content)).toEqual(['memo 3', 'memo 4']);
    await h.sut.deleteMemos([first[0].memo.id]);
    const rest = await h.sut.pendingMemos('bob', second[1].position, 2);
    expect(rest.map((p) => p.memo.content)).toEqual(['memo 5']);
    // A memo stored after earlier ones were delivered and deleted still comes after them.
    await h.sut.deleteMemos([...first, ...second, ...rest].map((p) => p.memo.id));
    await h.sut.addMemo(
      createMessage('instant_message', {
        sender: alice,
        recipient: { id: 'bob', name: 'bob' },
        content: 'late',
      }),
    );
    const late = await h.sut.pendingMemos('bob', 0, 10);
    expect(late.map((p) => p.memo.content)).toEqual(['late']);
    expect(late[0].position).toBeGreaterThan(rest[0].position);
  });

  it('should cut a page of events at its limit or byte budget, and say there is more', async () => {
    await h.sut.createRoom(room('r1'));
    for (let seq = 1; seq <= HISTORY_MAX; seq++) {
      await h.sut.appendRoomEvent(chat('r1', seq, 'x'.repeat(1000)));
    }
    const byCount = await h.sut.eventsAfter('r1', 0, 5, { limit: 3, maxBytes: 1_000_000 });
    expect(byCount.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(byCount.more).toBe(true);
    const byBytes = await h.sut.eventsAfter('r1', 1, 5, { limit: 100, maxBytes: 2500 });
    expect(byBytes.events.map((e) => e.seq)).toEqual([2, 3]);
    expect(byBytes.more).toBe(true);
    const oneAtLeast = await h.sut.eventsAfter('r1', 0, 5, { limit: 100, maxBytes: 1 });
    expect(oneAtLeast.events.map((e) => e.seq)).toEqual([1]);
    const rest = await h.sut.eventsAfter('r1', 3, 5, { limit: 2, maxBytes: 1_000_000 });
    expect(rest.events.map((e) => e.seq)).toEqual([4, 5]);
    expect(rest.more).toBe(false);
    expect(rest.complete).toBe(true);
  });

  it("should read a room's stored last seq and the events after a seq (recovery after a failed write)", async () => {
    await h.sut.createRoom(room('r1'));
    for (let seq = 1; seq <= 3; seq++) await h.sut.appendRoomEvent(chat('r1', seq, `m${seq}`));
    await h.reopen();
    const tail = await h.sut.roomLog('r1', 1);
    expect(tail.lastSeq).toBe(3);
    expect(tail.events.map((e) => e.content)).toEqual(['m2', 'm3']);
    expect(await h.sut.roomLog('gone', 0)).toEqual({ lastSeq: 0, events: [] });
  });

  async function contentsOfMemos(userId: string): Promise<string[]> {
    return (await h.sut.pendingMemos(userId, 0, 100)).map((p) => p.memo.content);
  }

  it('should answer ping while open, and refuse it once closed (durable stores)', async () => {
    await expect(h.sut.ping()).resolves.toBeUndefined();
    if (!h.kit.durable) return;
    const other = await h.kit.open();
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });
});

describe.each(kits.filter(([name]) => name !== 'memory'))('group commit: %s', (_name, makeKit) => {
  it('should commit many concurrent writes in few batches', async () => {
    const kit = makeKit();
    const sut = (await kit.open()) as SqliteStore | PostgresStore;
    try {
      await sut.createRoom(room('busy'));
      const batches: Array<{ size: number; failed: number }> = [];
      sut.observeWrites((size, commitMs, failed) => {
        expect(commitMs).toBeGreaterThanOrEqual(0);
        batches.push({ size, failed });
      });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => sut.appendRoomEvent(chat('busy', i + 1))),
      );
      expect(sut.writeStats.largestBatch).toBeGreaterThan(50);
      expect(sut.writeStats.batches).toBeLessThan(50);
      // The observer hears of every batch once, with every write in it.
      expect(batches.reduce((sum, b) => sum + b.size, 0)).toBe(200);
      expect(batches.every((b) => b.failed === 0)).toBe(true);
    } finally {
      await sut.close();
      await kit.cleanup();
    }
  });
});

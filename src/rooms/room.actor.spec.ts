import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RecordingDelivery } from '../delivery/testing/recording-delivery.js';
import type { ChatMessage, UserRef } from '../contract/events.js';
import { Dispatcher } from '../dispatcher/index.js';
import { MemoryStore } from '../store/memory.store.js';
import type { RoomRecord } from '../store/message-store.js';
import { RoomActor, type RoomActorDeps } from './room.actor.js';
import { startTestRoom } from './testing/test-room.js';

const alice: UserRef = { id: 'alice', name: '앨리스' };
const bob: UserRef = { id: 'bob', name: 'Bob' };

describe(RoomActor.name, () => {
  let dispatcher: Dispatcher;
  let delivery: RecordingDelivery;
  let store: MemoryStore;

  function makeRoom(record: Partial<RoomRecord> = {}, storeOverride = store) {
    return makeRoomWith({ store: storeOverride }, record);
  }

  function makeRoomWith(deps: Partial<RoomActorDeps>, record: Partial<RoomRecord> = {}) {
    return startTestRoom({ dispatcher, delivery: delivery.asService(), store, ...deps }, record);
  }

  beforeEach(() => {
    dispatcher = new Dispatcher({ monitorEventLoop: false });
    dispatcher.start();
    delivery = new RecordingDelivery();
    store = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
  });

  afterEach(async () => {
    await dispatcher.close(1000);
  });

  it('should number events 1, 2, 3... in the order posts arrive, with no gaps', async () => {
    const sut = await makeRoom();
    await sut.join(alice);
    await sut.join(bob);
    const posts = Array.from({ length: 50 }, (_, i) =>
      sut.post(i % 2 ? alice : bob, `message ${i}`),
    );
    const stored = await Promise.all(posts);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 3));
    const broadcast = delivery.toRoom.map(({ message }) => message.seq);
    expect(broadcast).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
  });

  it('should let a muted member speak again once the mute ends', async () => {
    // Only the clock is fake: the mute compares against Date.now().
    jest.useFakeTimers({
      doNotFake: [
        'setImmediate',
        'nextTick',
        'queueMicrotask',
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'performance',
      ],
    });
    try {
      const sut = await makeRoom({ owner: 'alice' });
      await sut.join(alice);
      await sut.join(bob);
      await sut.mute('alice', 'bob', 60);
      await expect(sut.post(bob, 'now?')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      jest.setSystemTime(Date.now() + 59_000);
      await expect(sut.post(bob, 'now?')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      jest.setSystemTime(Date.now() + 1_001);
      await expect(sut.post(bob, 'now')).resolves.toMatchObject({ content: 'now' });
    } finally {
      jest.useRealTimers();
    }
  });

  it('should broadcast in seq order even when the store confirms writes out of order', async () => {
    const slowFirst = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = slowFirst.appendRoomEvent.bind(slowFirst);
    let calls = 0;
    slowFirst.appendRoomEvent = async (event: ChatMessage) => {
      await append(event); // written in order...
      const delay = calls++ === 1 ? 30 : 0; // ...but the first chat message is confirmed last
      await new Promise((resolve) => setTimeout(resolve, delay));
    };
    const sut = await makeRoom({}, slowFirst);
    await sut.join(alice);
    await Promise.all([sut.post(alice, 'one'), sut.post(alice, 'two'), sut.post(alice, 'three')]);
    expect(delivery.toRoom.map(({ message }) => message.content)).toEqual([
      '앨리스 joined Lobby',
      'one',
      'two',
      'three',
    ]);
  });

  it('should not keep a member whose room_join could not be stored', async () => {
    const flaky = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = flaky.appendRoomEvent.bind(flaky);
    let failNext = true;
    flaky.appendRoomEvent = async (event: ChatMessage, send) => {
      if (event.type === 'room_join' && event.user?.id === 'bob' && failNext) {
        failNext = false;
        throw new Error('disk hiccup');
      }
      return append(event, send);
    };
    const sut = await makeRoom({}, flaky);
    await sut.join(alice);
    await expect(sut.join(bob)).rejects.toThrow('disk hiccup');
    await expect(sut.post(bob, 'am I in?')).rejects.toMatchObject({ code: 'NOT_MEMBER' });
    expect((await sut.snapshot()).members).toEqual(['alice']);
    // Trying again works, with the seq the failed join would have had.
    const { messages } = await sut.join(bob);
    expect(messages.at(-1)).toMatchObject({ type: 'room_join', seq: 2 });
  });

  it('should renumber once after a failed write, even when later failures arrive late', async () => {
    const flaky = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = flaky.appendRoomEvent.bind(flaky);
    const attempts = new Map<number, number>();
    let lateFailure: Promise<unknown> | undefined;
    flaky.appendRoomEvent = async (event: ChatMessage) => {
      const seq = event.seq as number;
      const attempt = (attempts.get(seq) ?? 0) + 1;
      attempts.set(seq, attempt);
      if (seq === 2 && attempt === 1) throw new Error('disk hiccup');
      // The first try of seq 4 fails (its seq no longer follows) but reports late.
      if (seq === 4 && attempt === 1) {
        const late = new Promise((resolve) => setTimeout(resolve, 30)).then(() => append(event));
        lateFailure = late.catch(() => undefined);
        return late;
      }
      return append(event);
    };
    const sut = await makeRoom({}, flaky);
    await sut.join(alice);
    const first = await Promise.allSettled([
      sut.post(alice, 'a'),
      sut.post(alice, 'b'),
      sut.post(alice, 'c'),
    ]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const renumbered = [];
    for (const text of ['d', 'e', 'f', 'g']) renumbered.push(await sut.post(alice, text));
    expect(renumbered.map((m) => m.seq)).toEqual([2, 3, 4, 5]);
    await lateFailure; // the late failure has landed; its rewind job is queued before h
    await expect(sut.post(alice, 'h')).resolves.toMatchObject({ seq: 6 });
    const stored = await flaky.eventsBefore('lobby', 100, 50);
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('should answer and broadcast an event whose write was reported failed but is stored', async () => {
    const lossy = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = lossy.appendRoomEvent.bind(lossy);
    lossy.appendRoomEvent = async (event: ChatMessage, send) => {
      await append(event, send);
      if (event.content === 'lost confirmation') throw new Error('connection lost after COMMIT');
    };
    const sut = await makeRoom({}, lossy);
    await sut.join(alice);
    const [before, unsure, after] = await Promise.all([
      sut.post(alice, 'before'),
      sut.post(alice, 'lost confirmation'),
      sut.post(alice, 'after'),
    ]);
    expect([before.seq, unsure.seq, after.seq]).toEqual([2, 3, 4]);
    await expect(sut.post(alice, 'next')).resolves.toMatchObject({ seq: 5 });
    expect(delivery.toRoom.map(({ message }) => message.seq)).toEqual([1, 2, 3, 4, 5]);
    const stored = await lossy.eventsBefore('lobby', 100, 50);
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('should react to a message it must read while a write in flight fails, and go on', async () => {
    const lossy = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = lossy.appendRoomEvent.bind(lossy);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    lossy.appendRoomEvent = async (event: ChatMessage, send) => {
      await append(event, send);
      if (event.content !== 'slow and unsure') return;
      await held;
      throw new Error('connection lost after COMMIT');
    };
    const sut = await makeRoom({}, lossy);
    await sut.join(alice);
    const old = await sut.post(alice, 'old'); // never acted on: the room reads its state
    const unsure = sut.post(alice, 'slow and unsure');

    // The reaction's job reads the store once the write in flight is answered; that answer is
    // a failure, whose recovery is a job of the same room, queued behind the reaction.
    const reacted = sut.react(bob, old.seq as number, '👍', true);
    release();

    await expect(unsure).resolves.toMatchObject({ seq: 3 });
    await expect(reacted).rejects.toMatchObject({ code: 'NOT_MEMBER' });
    await sut.join(bob);
    await expect(sut.react(bob, old.seq as number, '👍', true)).resolves.toMatchObject({
      message: { type: 'room_reaction', target: old.seq },
    });
    await expect(sut.post(alice, 'next')).resolves.toMatchObject({ type: 'room_chat' });
  });

  it('should answer BUSY while the store cannot be read after a failed write, then deliver what was stored', async () => {
    const down = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = down.appendRoomEvent.bind(down);
    const roomLog = down.roomLog.bind(down);
    let storeDown = false;
    down.appendRoomEvent = async (event: ChatMessage, send) => {
      await append(event, send);
      if (event.content === 'unconfirmed') {
        storeDown = true;
        throw new Error('connection lost after COMMIT');
      }
    };
    let readable: () => void = () => undefined;
    const readableAgain = new Promise<void>((resolve) => (readable = resolve));
    down.roomLog = async (roomId: string, since: number) => {
      if (storeDown) {
        readable();
        throw new Error('connection refused');
      }
      return roomLog(roomId, since);
    };
    const sut = await makeRoom({}, down);
    await sut.join(alice);
    await expect(sut.post(alice, 'unconfirmed')).rejects.toMatchObject({ code: 'BUSY' });
    await readableAgain;
    await expect(sut.post(alice, 'meanwhile')).rejects.toMatchObject({ code: 'BUSY' });
    storeDown = false;
    // The next read (a retry after 250 ms) finds the event stored and broadcasts it.
    const delivered = await waitFor(() =>
      delivery.toRoom.find(({ message }) => message.content === 'unconfirmed'),
    );
    expect(delivered.message.seq).toBe(2);
    await expect(sut.post(alice, 'back')).resolves.toMatchObject({ seq: 3 });
  });

  it('should settle what waits on a stale log once the room closes, instead of hanging', async () => {
    const down = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = down.appendRoomEvent.bind(down);
    const roomLog = down.roomLog.bind(down);
    let storeDown = false;
    down.appendRoomEvent = async (event: ChatMessage, send) => {
      if (event.content === 'x') {
        storeDown = true;
        throw new Error('connection lost');
      }
      return append(event, send);
    };
    down.roomLog = async (roomId: string, since: number) => {
      if (storeDown) throw new Error('connection refused');
      return roomLog(roomId, since);
    };
    const sut = await makeRoom({}, down);
    await sut.join(alice);
    await expect(sut.post(alice, 'x')).rejects.toMatchObject({ code: 'BUSY' });
    const history = sut.history('alice', undefined, 10);
    const closing = sut.close();
    storeDown = false;
    // The retry read was a delayed job of a room that has stopped: it never runs.
    await expect(history).resolves.toMatchObject({ messages: expect.any(Array) });
    await expect(closing).resolves.toBeUndefined();
    await expect(down.eventsBefore('lobby', 100, 50)).resolves.toEqual([]);
  });

  it('should take a kicked member off the room’s channel even when its room_leave is not stored', async () => {
    const flaky = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = flaky.appendRoomEvent.bind(flaky);
    flaky.appendRoomEvent = async (event: ChatMessage, send) => {
      if (event.type === 'room_leave') throw new Error('disk hiccup');
      return append(event, send);
    };
    const sut = await makeRoom({ owner: 'alice', private: true }, flaky);
    await sut.join(alice);
    await sut.invite('alice', 'bob');
    await sut.join(bob);
    await expect(sut.kick('alice', 'bob')).rejects.toThrow('disk hiccup');
    expect(delivery.channels.at(-1)).toBe('leave bob lobby');
    expect((await sut.snapshot()).members).toEqual(['alice']);
  });

  it('should not broadcast the new owner’s events when a failed write finds the room taken over', async () => {
    const shared = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    const append = shared.appendRoomEvent.bind(shared);
    const roomLog = shared.roomLog.bind(shared);
    let ownerEpoch = 1;
    shared.appendRoomEvent = async (event: ChatMessage, send) => {
      if (event.content !== 'frozen mid-transaction') return append(event, send);
      // Meanwhile another instance took the room (epoch 2) and wrote two events of its own.
      ownerEpoch = 2;
      for (const content of ['b1', 'b2']) {
        const seq = (await roomLog('lobby', 0)).lastSeq + 1;
        await append({ ...event, id: `other-${content}`, seq, content });
      }
      throw new Error('Connection terminated unexpectedly');
    };
    shared.roomLog = async (roomId: string, since: number) => ({
      ...(await roomLog(roomId, since)),
      ownerEpoch,
    });
    const lost = jest.fn();
    const sut = await makeRoomWith({ store: shared, ownership: { epoch: 1, onLost: lost } });
    await sut.join(alice);
    await sut.post(alice, 'hello');
    // Sent again, it goes to the new owner.
    await expect(sut.post(alice, 'frozen mid-transaction')).rejects.toMatchObject({
      name: 'RoomMovedError',
    });
    await waitFor(() => (lost.mock.calls.length > 0 ? true : undefined));
    expect(delivery.toRoom.map(({ message }) => message.content)).not.toContain('b1');
  });

  it('should page a since-join by bytes and say there is more', async () => {
    const sut = await makeRoomWith({ recoveryBatchBytes: 16_384 });
    await sut.join(alice);
    for (let i = 0; i < 10; i++) await sut.post(alice, `${i}`.repeat(4000));
    const first = await sut.join(alice, { since: 0 });
    expect(first.more).toBe(true);
    expect(first.messages.length).toBeGreaterThan(1);
    const seen = [...first.messages];
    for (let page = first; page.more;) {
      page = await sut.join(alice, { since: page.messages.at(-1)?.seq as number });
      seen.push(...page.messages);
    }
    expect(seen.map((m) => m.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    const last = await sut.join(alice, { since: 9 });
    expect(last.messages.map((m) => m.seq)).toEqual([10, 11]);
    expect(Object.hasOwn(last, 'more')).toBe(false);
  });

  it('should refuse invitations past MAX_INVITES_PER_ROOM with FORBIDDEN', async () => {
    const sut = await makeRoomWith({ maxInvites: 2 }, { private: true, owner: 'alice' });
    await sut.invite('alice', 'u1');
    await sut.invite('alice', 'u2');
    await sut.invite('alice', 'u2'); // already invited: changes nothing
    await expect(sut.invite('alice', 'u3')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('should refuse a post from a non-member with NOT_MEMBER', async () => {
    const sut = await makeRoom();
    await expect(sut.post(alice, 'hello')).rejects.toMatchObject({ code: 'NOT_MEMBER' });
  });

  it('should let only the owner, invitees and the admin API into a private room', async () => {
    const sut = await makeRoom({ private: true, owner: 'alice' });
    await expect(sut.join(bob)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(sut.invite('bob', 'bob')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await sut.join(alice);
    await sut.invite('alice', 'bob');
    await expect(sut.join(bob)).resolves.toMatchObject({ room: { id: 'lobby' } });
    const carol = { id: 'carol', name: 'Carol' };
    await expect(sut.join(carol, { byAdmin: true })).resolves.toBeDefined();
  });

  it('should answer a join with history up to and including the joiner’s own room_join', async () => {
    const sut = await makeRoom();
    await sut.join(alice);
    await sut.post(alice, 'before bob');
    const joined = await sut.join(bob, { since: 1 });
    expect(joined.messages.map((m) => [m.seq, m.type])).toEqual([
      [2, 'room_chat'],
      [3, 'room_join'],
    ]);
    expect(joined.complete).toBe(true);
    expect(joined.room.members.map((m) => m.id)).toEqual(['alice', 'bob']);
  });

  it('should say a since-join is incomplete when retention dropped events after the cursor', async () => {
    store = new MemoryStore({ historyMaxPerRoom: 3, sendTtlMs: 60_000 });
    const sut = await makeRoom();
    await sut.join(alice);
    for (let i = 0; i < 5; i++) await sut.post(alice, `m${i}`);
    const rejoin = await sut.join(alice, { since: 1 });
    expect(rejoin.complete).toBe(false);
    expect(rejoin.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
  });

  it('should tell every member and then forget the room when closed', async () => {
    const sut = await makeRoom();
    await sut.join(alice);
    await sut.join(bob);
    await sut.close();
    const leaves = delivery.toRoom.filter(({ message }) => message.type === 'room_leave');
    expect(leaves.map(({ message }) => message.user?.id)).toEqual(['alice', 'bob']);
    expect(delivery.channels).toContain('close lobby');
    await expect(sut.post(alice, 'anyone?')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.eventsBefore('lobby', 100, 50)).resolves.toEqual([]);
  });
});

/** Resolves with the first truthy value of `find`, checked as the actors make progress. */
async function waitFor<T>(find: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not found in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

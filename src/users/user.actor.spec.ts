import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { ChatMessage, UserRef } from '../contract/events.js';
import { RoomNotFoundError } from '../contract/errors.js';
import { createMessage } from '../contract/messages.js';
import { RecordingDelivery } from '../delivery/testing/recording-delivery.js';
import { Dispatcher } from '../dispatcher/index.js';
import type { RoomHandle } from '../rooms/room-handle.js';
import { MemoryStore } from '../store/memory.store.js';
import { MemoDeletions } from './memos.js';
import {
  UserActor,
  type RoomDirectory,
  type UserDirectory,
  type UserSettings,
} from './user.actor.js';

const alice: UserRef = { id: 'alice', name: 'Alice' };

class RecordingDirectory implements UserDirectory {
  readonly events: string[] = [];
  arrived(user: UserRef): void {
    this.events.push(`arrived ${user.id}`);
  }
  reachable(): void {}
  departed(user: UserRef, roomIds: readonly string[]): void {
    this.events.push(`departed ${user.id} [${roomIds.join(',')}]`);
  }
  retired(actor: UserActor): void {
    this.events.push(`retired ${actor.ref.id}`);
  }
  reconnect(socketId: string): void {
    this.events.push(`reconnect ${socketId}`);
  }
  async reachableRef(): Promise<UserRef | undefined> {
    return undefined;
  }
  async onlineRef(): Promise<UserRef | undefined> {
    return undefined;
  }
  flushMemos(): void {}
}

/** Rooms that take whatever the user does and record it; `post` may be replaced. */
class FakeRooms implements RoomDirectory {
  readonly calls: string[] = [];
  post: (content: string) => Promise<ChatMessage> = async (content) =>
    createMessage('room_chat', { roomId: 'general', seq: 1, sender: alice, content });

  async resolve(roomId: string): Promise<RoomHandle> {
    if (roomId === 'nowhere') throw new RoomNotFoundError(roomId);
    const record = (call: string) => async () => void this.calls.push(`${call} ${roomId}`);
    return {
      post: (_user: UserRef, content: string) => {
        this.calls.push(`post ${roomId}`);
        return this.post(content);
      },
      join: record('join'),
      leave: record('leave'),
      invite: record('invite'),
      typing: record('typing'),
    } as unknown as RoomHandle;
  }

  create(): ReturnType<RoomDirectory['create']> {
    throw new Error('not in these tests');
  }
}

describe(UserActor.name, () => {
  let dispatcher: Dispatcher;
  let delivery: RecordingDelivery;
  let directory: RecordingDirectory;
  let rooms: FakeRooms;
  let store: MemoryStore;

  const settings = (overrides: Partial<UserSettings> = {}): UserSettings => ({
    presenceGraceMs: 0,
    idleTimeoutMs: 0,
    rateLimitBurst: 5,
    rateLimitPerSecond: 1,
    activityRateBurst: 3,
    activityRatePerSecond: 1,
    maxRoomsPerUser: 100,
    memoConfirmMs: 10_000,
    recoveryBatchBytes: 1_000_000,
    ...overrides,
  });

  function makeUser(overrides: Partial<UserSettings> = {}): UserActor {
    return new UserActor(alice, {
      dispatcher,
      delivery: delivery.asService(),
      store,
      rooms,
      directory,
      memoDeletions: new MemoDeletions(),
      settings: settings(overrides),
    });
  }

  beforeEach(() => {
    dispatcher = new Dispatcher({ monitorEventLoop: false });
    dispatcher.start();
    delivery = new RecordingDelivery();
    directory = new RecordingDirectory();
    rooms = new FakeRooms();
    store = new MemoryStore({ historyMaxPerRoom: 10, sendTtlMs: 60_000 });
  });

  afterEach(async () => {
    jest.useRealTimers();
    await dispatcher.close(1000);
  });

  it('should arrive with its first socket and depart with its last, with the rooms it was in', async () => {
    const sut = makeUser();
    sut.attach('s1');
    sut.attach('s2');
    sut.noteJoined('general');
    sut.detach('s1');
    await dispatcher.drain();
    expect(directory.events).toEqual(['arrived alice']);
    sut.detach('s2');
    await dispatcher.drain();
    expect(directory.events).toEqual([
      'arrived alice',
      'departed alice [general]',
      'retired alice',
    ]);
  });

  it('should not announce offline when a socket returns within the presence grace', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const sut = makeUser({ presenceGraceMs: 1000 });
    sut.attach('s1');
    sut.detach('s1');
    await jest.advanceTimersByTimeAsync(500);
    sut.attach('s2');
    await jest.advanceTimersByTimeAsync(2000);
    expect(directory.events).toEqual(['arrived alice']);
    sut.detach('s2');
    await jest.advanceTimersByTimeAsync(1000);
    expect(directory.events).toContain('departed alice []');
  });

  it('should allow a burst of sends, then answer RATE_LIMITED before looking the room up', async () => {
    const sut = makeUser({ rateLimitBurst: 3, rateLimitPerSecond: 1 });
    sut.attach('s1');
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((i) => sut.postToRoom('general', `m${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'RATE_LIMITED' });
    await expect(sut.postToRoom('nowhere', 'x')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('should answer NOT_FOUND for a room that does not exist', async () => {
    const sut = makeUser();
    sut.attach('s1');
    await expect(sut.postToRoom('nowhere', 'hello?')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('should post once for a clientMsgId retried while the first is in flight', async () => {
    const sut = makeUser();
    sut.attach('s1');
    const [first, retry] = await Promise.all([
      sut.postToRoom('general', 'once', 'id-1'),
      sut.postToRoom('general', 'a retry carries anything', 'id-1'),
    ]);
    expect(rooms.calls).toEqual(['post general']);
    expect(retry.message.id).toBe(first.message.id);
  });

  it('should let a retry run afresh when the first attempt was refused', async () => {
    const sut = makeUser();
    sut.attach('s1');
    const post = rooms.post;
    rooms.post = async () => {
      rooms.post = post;
      throw new Error('refused');
    };
    await expect(sut.postToRoom('general', 'first try', 'id-2')).rejects.toThrow('refused');
    await expect(sut.postToRoom('general', 'second try', 'id-2')).resolves.toMatchObject({
      message: { content: 'second try' },
    });
  });

  it('should replay the stored answer of a clientMsgId used in an earlier session', async () => {
    const earlier = createMessage('room_chat', {
      roomId: 'general',
      seq: 7,
      sender: alice,
      content: 'kept',
    });
    await store.createRoom({ id: 'general', name: 'general', private: false, createdAt: '' });
    for (let seq = 1; seq <= 7; seq++) {
      const event = seq === 7 ? earlier : { ...earlier, id: `e${seq}`, seq };
      await store.appendRoomEvent(
        event,
        seq === 7 ? { userId: 'alice', clientMsgId: 'id-3', message: earlier } : undefined,
      );
    }
    const sut = makeUser();
    sut.attach('s1');
    await expect(sut.postToRoom('general', 'anything', 'id-3')).resolves.toEqual({
      message: earlier,
    });
    expect(rooms.calls).toEqual([]);
  });

  it('should disconnect itself once idle for the timeout', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const sut = makeUser({ idleTimeoutMs: 1000 });
    sut.attach('s1');
    await jest.advanceTimersByTimeAsync(600);
    sut.touch();
    await jest.advanceTimersByTimeAsync(600);
    expect(delivery.disconnected).toEqual([]);
    await jest.advanceTimersByTimeAsync(800);
    expect(delivery.disconnected).toEqual(['alice']);
  });

  describe('stored memos', () => {
    const memoFromBob = (content: string) =>
      createMessage('instant_message', {
        sender: { id: 'bob', name: 'Bob' },
        recipient: alice,
        content,
      });

    /** Resolves with the ids of the next deleteMemos call. */
    function nextDeletion(): Promise<readonly string[]> {
      return new Promise((resolve) => {
        const original = store.deleteMemos.bind(store);
        store.deleteMemos = async (ids) => {
          store.deleteMemos = original;
          await original(ids);
          resolve(ids);
        };
      });
    }

    async function pendingIds(): Promise<string[]> {
      return (await store.pendingMemos('alice', 0, 1000)).map((p) => p.memo.id);
    }

    it('should deliver them when it comes online, and delete each once a socket acknowledges it', async () => {
      const memos = [memoFromBob('one'), memoFromBob('two')];
      for (const memo of memos) await store.addMemo(memo);
      const sut = makeUser();
      sut.attach('s1');
      await dispatcher.drain();
      await waitUntil(() => delivery.memos.length === 2);
      expect(delivery.memos.map((m) => [m.socketId, m.message])).toEqual([
        ['s1', memos[0]],
        ['s1', memos[1]],
      ]);
      // Not acknowledged yet: still stored.
      expect(await pendingIds()).toEqual(memos.map((m) => m.id));
      const deleted = nextDeletion();
      delivery.memos[1].ack();
      await expect(deleted).resolves.toEqual([memos[1].id]);
      expect(await pendingIds()).toEqual([memos[0].id]);
    });

    it('should delete memos a client never acknowledges once its socket stayed connected for MEMO_CONFIRM_MS', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      const memo = memoFromBob('v1 client');
      await store.addMemo(memo);
      const sut = makeUser({ memoConfirmMs: 10_000 });
      sut.attach('s1');
      await jest.advanceTimersByTimeAsync(9_000);
      expect(delivery.memos).toHaveLength(1);
      expect(await pendingIds()).toEqual([memo.id]);
      await jest.advanceTimersByTimeAsync(1_100);
      expect(await pendingIds()).toEqual([]);
    });

    it('should keep memos whose socket closed before confirming them, and send them to the next socket', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      delivery.connectedSockets = new Set(['s1']);
      const memo = memoFromBob('kept');
      await store.addMemo(memo);
      const sut = makeUser({ presenceGraceMs: 60_000 });
      sut.attach('s1');
      await jest.advanceTimersByTimeAsync(1_000);
      delivery.connectedSockets.delete('s1');
      sut.detach('s1');
      await jest.advanceTimersByTimeAsync(20_000);
      expect(await pendingIds()).toEqual([memo.id]);
      delivery.connectedSockets.add('s2');
      sut.attach('s2');
      await jest.advanceTimersByTimeAsync(1_000);
      expect(delivery.memos.map((m) => [m.socketId, m.message.id])).toEqual([
        ['s1', memo.id],
        ['s2', memo.id],
      ]);
    });

    it('should send a new socket only what it lacks, and never a memo already acknowledged', async () => {
      const memos = [memoFromBob('one'), memoFromBob('two')];
      for (const memo of memos) await store.addMemo(memo);
      const sut = makeUser();
      sut.attach('s1');
      await waitUntil(() => delivery.memos.length === 2);
      const deleted = nextDeletion();
      delivery.memos[0].ack();
      await deleted;
      sut.attach('s2');
      await waitUntil(() => delivery.memos.length === 3);
      await dispatcher.drain();
      expect(delivery.memos.map((m) => [m.socketId, m.message.content])).toEqual([
        ['s1', 'one'],
        ['s1', 'two'],
        ['s2', 'two'],
      ]);
    });

    it('should send memos in batches of at most RECOVERY_BATCH_BYTES, each after the one before has left', async () => {
      const memos = Array.from({ length: 5 }, (_, i) => memoFromBob(`${i}`.repeat(400)));
      for (const memo of memos) await store.addMemo(memo);
      let release: (() => void) | undefined;
      const flushedAt: number[] = [];
      const service = delivery.asService();
      service.whenFlushed = () => {
        flushedAt.push(delivery.memos.length);
        return new Promise((resolve) => {
          release = () => resolve(true);
        });
      };
      const sut = new UserActor(alice, {
        dispatcher,
        delivery: service,
        store,
        rooms,
        directory,
        memoDeletions: new MemoDeletions(),
        settings: settings({ recoveryBatchBytes: 1_200 }), // two memos of ~600 bytes
      });
      sut.attach('s1');
      for (const expected of [2, 4, 5]) {
        await waitUntil(() => release !== undefined);
        expect(delivery.memos).toHaveLength(expected);
        const next = release as () => void;
        release = undefined;
        next();
      }
      expect(flushedAt).toEqual([2, 4, 5]);
      // Each batch is owed to the client as a whole: the slow-consumer check leaves it alone.
      const size = (memo: ChatMessage): number => JSON.stringify(memo).length;
      expect(delivery.requested).toEqual([
        { socketId: 's1', length: size(memos[0]) + size(memos[1]) },
        { socketId: 's1', length: size(memos[2]) + size(memos[3]) },
        { socketId: 's1', length: size(memos[4]) },
      ]);
    });
  });

  it('should charge joins and leaves that change membership, invitations and typing to an activity bucket apart from sends', async () => {
    const sut = makeUser({ activityRateBurst: 3, activityRatePerSecond: 1 });
    sut.attach('s1');
    sut.noteJoined('general');
    await dispatcher.drain();
    // Already in general: joining it again, or leaving a room it is not in, is free.
    for (let i = 0; i < 10; i++) {
      await sut.joinRoom('general');
      await sut.leaveRoom('dev');
    }
    await sut.joinRoom('dev');
    await sut.leaveRoom('general');
    await sut.typing('dev');
    await expect(sut.invite('dev', 'bob')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // The message burst is untouched.
    await expect(sut.postToRoom('dev', 'still here')).resolves.toBeDefined();
  });
});

/** Waits for a condition that the actors reach by themselves (store reads are async). */
async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RecordingDelivery } from '../delivery/testing/recording-delivery.js';
import type { UserRef } from '../contract/events.js';
import { createMessage } from '../contract/messages.js';
import { Dispatcher } from '../dispatcher/index.js';
import { MemoryStore } from '../store/memory.store.js';
import { MemoDeletions } from './memo-outbox.js';
import { UserActor, type UserLifecycle, type UserSettings } from './user.actor.js';

const alice: UserRef = { id: 'alice', name: 'Alice' };

class RecordingLifecycle implements UserLifecycle {
  readonly events: string[] = [];
  presenceToEveryone = true;
  online(user: UserRef): void {
    this.events.push(`online ${user.id}`);
  }
  broadcastsPresence(): boolean {
    return this.presenceToEveryone;
  }
  reachable(): void {}
  offline(user: UserRef, roomIds: string[]): void {
    this.events.push(`offline ${user.id} [${roomIds.join(',')}]`);
  }
  retired(actor: UserActor): void {
    this.events.push(`retired ${actor.ref.id}`);
  }
  reconnect(socketId: string): void {
    this.events.push(`reconnect ${socketId}`);
  }
}

describe(UserActor.name, () => {
  let dispatcher: Dispatcher;
  let delivery: RecordingDelivery;
  let lifecycle: RecordingLifecycle;
  let store: MemoryStore;

  function makeUser(settings: Partial<UserSettings> = {}): UserActor {
    return new UserActor(alice, {
      dispatcher,
      delivery: delivery.asService(),
      store,
      memoDeletions: new MemoDeletions(),
      lifecycle,
      settings: {
        presenceGraceMs: 0,
        idleTimeoutMs: 0,
        rateLimitBurst: 5,
        rateLimitPerSecond: 1,
        activityRateBurst: 3,
        activityRatePerSecond: 1,
        memoConfirmMs: 10_000,
        recoveryBatchBytes: 1_000_000,
        ...settings,
      },
    });
  }

  const chat = (content: string) => ({
    message: createMessage('room_chat', { roomId: 'r', seq: 1, sender: alice, content }),
  });

  beforeEach(() => {
    dispatcher = new Dispatcher({ monitorEventLoop: false });
    dispatcher.start();
    delivery = new RecordingDelivery();
    lifecycle = new RecordingLifecycle();
    store = new MemoryStore({ historyMaxPerRoom: 10, sendTtlMs: 60_000 });
  });

  afterEach(async () => {
    jest.useRealTimers();
    await dispatcher.close(1000);
  });

  it('should come online with its first socket and go offline with its last', async () => {
    const sut = makeUser();
    sut.attach('s1');
    sut.attach('s2');
    sut.noteJoined('general');
    sut.detach('s1');
    await dispatcher.drain();
    expect(lifecycle.events).toEqual(['online alice']);
    sut.detach('s2');
    await dispatcher.drain();
    expect(lifecycle.events).toEqual(['online alice', 'offline alice [general]', 'retired alice']);
    expect(delivery.toEveryone.map((m) => m.type)).toEqual(['user_connect', 'user_disconnect']);
  });

  it('should tell only itself of its connect when presence is not broadcast', async () => {
    lifecycle.presenceToEveryone = false;
    const sut = makeUser();
    sut.attach('s1');
    sut.detach('s1');
    await dispatcher.drain();
    expect(delivery.toEveryone).toEqual([]);
    expect(delivery.toUsers.map((d) => [d.userIds, d.message.type])).toEqual([
      [['alice'], 'user_connect'],
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
    expect(lifecycle.events).toEqual(['online alice']);
    sut.detach('s2');
    await jest.advanceTimersByTimeAsync(1000);
    expect(lifecycle.events).toContain('offline alice []');
  });

  it('should allow a burst, then answer RATE_LIMITED', async () => {
    const sut = makeUser({ rateLimitBurst: 3, rateLimitPerSecond: 1 });
    sut.attach('s1');
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((i) => sut.send(undefined, async () => chat(`m${i}`))),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('should run a send once for a clientMsgId retried while the first is in flight', async () => {
    const sut = makeUser();
    sut.attach('s1');
    let performed = 0;
    const perform = async () => {
      performed++;
      return chat('once');
    };
    const [first, retry] = await Promise.all([
      sut.send('id-1', perform),
      sut.send('id-1', perform),
    ]);
    expect(performed).toBe(1);
    expect(retry.message.id).toBe(first.message.id);
  });

  it('should let a retry run afresh when the first attempt was refused', async () => {
    const sut = makeUser();
    sut.attach('s1');
    await expect(
      sut.send('id-2', async () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    await expect(sut.send('id-2', async () => chat('second try'))).resolves.toMatchObject({
      message: { content: 'second try' },
    });
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
        memoDeletions: new MemoDeletions(),
        lifecycle,
        settings: {
          presenceGraceMs: 0,
          idleTimeoutMs: 0,
          rateLimitBurst: 5,
          rateLimitPerSecond: 1,
          activityRateBurst: 3,
          activityRatePerSecond: 1,
          memoConfirmMs: 10_000,
          recoveryBatchBytes: 1_200, // two memos of ~600 bytes
        },
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
    });
  });

  it('should charge joins and leaves that change membership, invitations and typing to an activity bucket apart from sends', async () => {
    const sut = makeUser({ activityRateBurst: 3, activityRatePerSecond: 1 });
    sut.attach('s1');
    sut.noteJoined('general');
    await dispatcher.drain();
    // Already in general: joining it again, or leaving a room it is not in, is free.
    for (let i = 0; i < 10; i++) {
      await sut.chargeActivity({ join: 'general' });
      await sut.chargeActivity({ leave: 'dev' });
    }
    await sut.chargeActivity({ join: 'dev' });
    await sut.chargeActivity({ leave: 'general' });
    await sut.chargeActivity();
    await expect(sut.chargeActivity()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // The message burst is untouched.
    await expect(sut.send(undefined, async () => chat('still here'))).resolves.toBeDefined();
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

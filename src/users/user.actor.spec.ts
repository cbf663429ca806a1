import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RecordingDelivery } from '../../test/support/fakes.js';
import type { UserRef } from '../chat/chat.events.js';
import { createMessage } from '../common/messages.js';
import { Dispatcher } from '../dispatcher/index.js';
import { MemoryStore } from '../store/memory.store.js';
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
      lifecycle,
      settings: {
        presenceGraceMs: 0,
        idleTimeoutMs: 0,
        rateLimitBurst: 5,
        rateLimitPerSecond: 1,
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

  it('should deliver memos stored while offline when it comes online, then remove them', async () => {
    const memo = createMessage('instant_message', {
      sender: { id: 'bob', name: 'Bob' },
      recipient: alice,
      content: 'while you were out',
    });
    await store.addMemo(memo);
    const deleted = new Promise<readonly string[]>((resolve) => {
      const original = store.deleteMemos.bind(store);
      store.deleteMemos = async (ids) => {
        await original(ids);
        resolve(ids);
      };
    });
    const sut = makeUser();
    sut.attach('s1');
    await expect(deleted).resolves.toEqual([memo.id]);
    expect(delivery.toUsers).toEqual([{ userIds: ['alice'], message: memo }]);
    await expect(store.pendingMemos('alice')).resolves.toEqual([]);
  });
});

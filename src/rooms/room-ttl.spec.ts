import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RecordingDelivery } from '../delivery/testing/recording-delivery.js';
import type { UserRef } from '../contract/events.js';
import { RoomNotFoundError } from '../contract/errors.js';
import { Dispatcher } from '../dispatcher/index.js';
import { MemoryStore } from '../store/memory.store.js';
import type { RoomRecord } from '../store/message-store.js';
import { RoomActor } from './room.actor.js';
import { startTestRoom } from './testing/test-room.js';

const alice: UserRef = { id: 'alice', name: 'Alice' };
const bob: UserRef = { id: 'bob', name: 'Bob' };

describe(`${RoomActor.name} with a TTL`, () => {
  let dispatcher: Dispatcher;
  let delivery: RecordingDelivery;
  let store: MemoryStore;
  let expired: Array<Promise<void>>;

  function makeRoom(record: Partial<RoomRecord> = {}): Promise<RoomActor> {
    return startTestRoom(
      {
        dispatcher,
        delivery: delivery.asService(),
        store,
        onExpired: (_room, closed) => void expired.push(closed),
      },
      { id: 'match', name: 'Match', ttlSeconds: 60, ...record },
    );
  }

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    dispatcher = new Dispatcher({ monitorEventLoop: false });
    dispatcher.start();
    delivery = new RecordingDelivery();
    store = new MemoryStore({ historyMaxPerRoom: 100, sendTtlMs: 60_000 });
    expired = [];
  });

  afterEach(async () => {
    jest.useRealTimers();
    await dispatcher.close(1000);
  });

  it('should close itself once empty for its TTL from the start, telling nobody', async () => {
    const sut = await makeRoom();

    await jest.advanceTimersByTimeAsync(59_999);
    expect(expired).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);

    expect(expired).toHaveLength(1);
    await expired[0];
    expect(sut.stopped).toBe(true);
    expect(delivery.toRoom).toEqual([]);
    expect(delivery.channels).toEqual(['close match']);
    expect(await store.loadRooms()).toEqual([]);
    await expect(sut.join(alice)).rejects.toBeInstanceOf(RoomNotFoundError);
  });

  it('should not close while someone is in it, and count again from the last leave', async () => {
    const sut = await makeRoom();
    await jest.advanceTimersByTimeAsync(30_000);
    await sut.join(alice);
    await sut.join(bob);

    await jest.advanceTimersByTimeAsync(120_000);
    await sut.leave(alice);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(expired).toHaveLength(0);
    await sut.leave(bob);
    await jest.advanceTimersByTimeAsync(59_999);
    expect(expired).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);

    expect(expired).toHaveLength(1);
    await expired[0];
    expect(sut.stopped).toBe(true);
  });

  it('should keep a room that someone joins in the last moment, even with its expiry due', async () => {
    const sut = await makeRoom();
    await jest.advanceTimersByTimeAsync(59_999);

    // Queued before the due expiry enters the mailbox: the expiry finds a member and stands down.
    const joined = sut.join(alice);
    await jest.advanceTimersByTimeAsync(1);
    await joined;
    await jest.advanceTimersByTimeAsync(600_000);

    expect(expired).toHaveLength(0);
    expect(sut.stopped).toBe(false);
    await expect(sut.snapshot()).resolves.toMatchObject({ members: ['alice'] });
  });

  it('should answer a close queued behind a due expiry with that same close', async () => {
    const sut = await makeRoom();
    await jest.advanceTimersByTimeAsync(59_999);

    jest.advanceTimersByTime(1); // the expiry enters the mailbox, not yet run
    const closing = sut.close(); // a DELETE that found the room just before it expired
    await jest.advanceTimersByTimeAsync(0);

    await expect(closing).resolves.toBeUndefined();
    expect(expired).toHaveLength(1);
    expect(await store.loadRooms()).toEqual([]);
  });

  it('should never close a room without a TTL', async () => {
    const sut = await makeRoom({ ttlSeconds: undefined });
    await sut.join(alice);
    await sut.leave(alice);

    await jest.advanceTimersByTimeAsync(30 * 24 * 3600 * 1000);

    expect(expired).toHaveLength(0);
    expect(sut.stopped).toBe(false);
  });

  it('should not fire after being closed', async () => {
    const sut = await makeRoom();
    await sut.close();

    await jest.advanceTimersByTimeAsync(120_000);

    expect(expired).toHaveLength(0);
    expect(dispatcher.metrics().delayedPending).toBe(0);
  });
});

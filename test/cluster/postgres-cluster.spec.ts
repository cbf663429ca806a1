/**
 * The cluster's shared state in a real PostgreSQL (a schema of the test's own): leases, room
 * ownership and its fencing epochs.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createMessage } from '../../src/contract/messages.js';
import type { PostgresCluster } from '../../src/store/postgres/postgres-cluster.js';
import { PostgresStore } from '../../src/store/postgres/postgres.store.js';
import { StaleOwnerError } from '../../src/store/store-errors.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from '../support/services.js';

const describePostgres = (await serviceAvailable('postgres')) ? describe : describe.skip;

describePostgres(PostgresStore.name + ' in cluster mode', () => {
  let store: PostgresStore;
  let sut: PostgresCluster;

  beforeEach(async () => {
    store = new PostgresStore({
      url: POSTGRES_URL,
      schema: uniqueSchema('chat_pgcluster'),
      historyMaxPerRoom: 100,
      sendTtlMs: 60_000,
    });
    await store.init();
    sut = store.cluster;
    await sut.heartbeat('A', 60_000);
  });

  afterEach(async () => {
    await store.dropSchema();
    await store.close();
  });

  const record = (id: string) => ({
    id,
    name: id,
    private: false,
    createdAt: new Date().toISOString(),
  });
  const chat = (roomId: string, seq: number) =>
    createMessage('room_chat', { roomId, seq, sender: { id: 'u', name: 'U' }, content: 'x' });

  it('should never give a room id made again an epoch of its earlier life', async () => {
    const first = await sut.createRoom(record('again'), 'A');
    const taken = await sut.acquireRoom('again', 'A', false);
    expect(taken!.epoch).toBeGreaterThan(first!);
    await store.deleteRoom('again', { epoch: taken!.epoch });

    const second = await sut.createRoom(record('again'), 'A');
    expect(second).toBeGreaterThan(taken!.epoch);
    // A write of the earlier life's owners is refused.
    for (const epoch of [first!, taken!.epoch]) {
      await expect(store.appendRoomEvent(chat('again', 1), undefined, { epoch })).rejects.toThrow(
        StaleOwnerError,
      );
    }
    await expect(
      store.appendRoomEvent(chat('again', 1), undefined, { epoch: second! }),
    ).resolves.toBeUndefined();
  });

  it('should answer undefined for a room id that is taken', async () => {
    expect(await sut.createRoom(record('taken'), 'A')).toBeDefined();
    expect(await sut.createRoom(record('taken'), 'B')).toBeUndefined();
  });
});

/**
 * Requests between instances over a real Redis (a prefix of the test's own): a request is
 * sent elsewhere only when it surely did not run.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ClusterBus, UnreachableInstanceError } from '../../src/cluster/cluster-bus.js';
import type { ClusterNode } from '../../src/cluster/cluster-node.js';
import { AppConfig } from '../../src/config/app-config.js';
import { BusyError } from '../../src/contract/errors.js';
import { RedisConnection } from '../../src/redis/redis.connection.js';
import { deleteRedisKeys } from '../support/cluster.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../support/services.js';

const describeRedis = (await serviceAvailable('redis')) ? describe : describe.skip;

describeRedis(ClusterBus.name, () => {
  let prefix: string;
  let connections: RedisConnection[] = [];
  let buses: ClusterBus[] = [];
  /** Whether B's lease holds, as A sees it. */
  let bAlive = true;

  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  beforeEach(() => {
    prefix = `test-bus-${randomBytes(4).toString('hex')}:`;
    bAlive = true;
  });

  afterEach(async () => {
    for (const bus of buses) bus.onApplicationShutdown();
    for (const connection of connections) await connection.onApplicationShutdown();
    await deleteRedisKeys(prefix);
    connections = [];
    buses = [];
  });

  async function instance(id: string): Promise<ClusterBus> {
    const config = AppConfig.fromEnv({
      NODE_ENV: 'test',
      DATABASE_URL: POSTGRES_URL,
      REDIS_URL,
      REDIS_PREFIX: prefix,
    });
    const connection = new RedisConnection(config);
    await connection.connect();
    const node = {
      id,
      enabled: true,
      isAlive: (other: string) => other === id || other !== 'B' || bAlive,
    } as unknown as ClusterNode;
    const bus = new ClusterBus(connection, node, config);
    await bus.start();
    connections.push(connection);
    buses.push(bus);
    return bus;
  }

  it('should answer BUSY, never "unreachable", when the instance took the request and then stopped answering', async () => {
    const [a, b] = [await instance('A'), await instance('B')];
    let runs = 0;
    // B runs the request, then freezes before it answers: its lease runs out meanwhile.
    b.handle('work', () => {
      runs++;
      bAlive = false;
      return new Promise(() => undefined);
    });
    const failure = await a.request('B', 'work', {}, 5000).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BusyError);
    expect(failure).not.toBeInstanceOf(UnreachableInstanceError);
    expect(runs).toBe(1);
  });

  it('should answer "unreachable" when no instance listens on its channel (nothing ran)', async () => {
    const a = await instance('A');
    await expect(a.request('C', 'work', {}, 5000)).rejects.toBeInstanceOf(UnreachableInstanceError);
  });

  it('should relay the answer of the instance', async () => {
    const [a, b] = [await instance('A'), await instance('B')];
    b.handle('work', (body) => ({ echo: body }));
    await expect(a.request('B', 'work', { n: 1 }, 5000)).resolves.toEqual({ echo: { n: 1 } });
  });
});

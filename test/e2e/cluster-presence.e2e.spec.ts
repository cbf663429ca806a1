/**
 * Presence when an instance goes away while one of its users is in its presence grace: the
 * instances left tell everyone the user left, once the grace is over, and stop listing it.
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { TestCluster, waitUntil } from '../support/cluster.js';
import { disconnectOf } from '../support/e2e.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

const LEASE_MS = 1500;
const GRACE_MS = 2000;

describeCluster('presence when an instance goes away', () => {
  let cluster: TestCluster | undefined;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  }, 30_000);

  afterAll(() => redis.disconnect());

  /** A user on the first instance whose socket closed: its grace runs there. */
  async function inGrace(c: TestCluster, userId: string): Promise<void> {
    const ghost = await c.clients[0].as(userId);
    ghost.close();
    // The first instance gave its socket back (its count is gone from Redis).
    await waitUntil(
      async () => (await redis.hlen(`${c.prefix}presence:sockets:${userId}`)) === 0,
      5000,
    );
  }

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`should tell the others’ users of a user in its grace on an instance stopped by ${signal}`, async () => {
      const c = (cluster = await new TestCluster({
        env: { CLUSTER_LEASE_MS: String(LEASE_MS), PRESENCE_GRACE_MS: String(GRACE_MS) },
      }).start());
      const watcher = await c.clients[1].as('p-watch');
      await inGrace(c, 'p-ghost');
      const stoppedAt = Date.now();
      await c.servers[0].stop(signal);
      await watcher.waitFor(disconnectOf('p-ghost'), GRACE_MS + 4 * LEASE_MS + 2000);
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(
        signal === 'SIGTERM' ? GRACE_MS - 500 : 0,
      );
      const { users } = await watcher.ok('user:list');
      expect(users.map((u) => u.id)).toEqual(['p-watch']);
      expect(watcher.received.filter(disconnectOf('p-ghost'))).toHaveLength(1);
    }, 40_000);
  }
});

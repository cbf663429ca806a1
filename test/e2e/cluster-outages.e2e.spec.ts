/**
 * A cluster through outages of PostgreSQL and Redis that leave work half done: what was
 * refused meanwhile is done again once the service is back, and no instance crashes or keeps
 * a user online for ever. Short leases keep the tests short.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { roomIdsOf, TestCluster, waitUntil } from '../support/cluster.js';
import { serviceAvailable } from '../support/services.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

const LEASE_MS = 1500;

describeCluster('a cluster through outages', () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  }, 30_000);

  async function start(options: ConstructorParameters<typeof TestCluster>[0] = {}) {
    cluster = await new TestCluster({
      ...options,
      env: { CLUSTER_LEASE_MS: String(LEASE_MS), ...options.env },
    }).start();
    return cluster;
  }

  it('should keep running when a room’s TTL close cannot be written, and close it once PostgreSQL is back', async () => {
    // A lease long enough that the outage does not cost it before the room expires.
    const c = await start({
      instances: 1,
      proxyPostgres: true,
      env: { CLUSTER_LEASE_MS: '3000' },
    });
    const created = await fetch(`${c.url(0)}/api/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ttl-away', ttlSeconds: 1 }),
    });
    expect(created.status).toBe(201);
    const proxy = c.postgresProxy!;
    proxy.refuse(true);
    proxy.cut();
    // The room expires while PostgreSQL is away: its deletion fails, and the process lives on.
    const server = c.servers[0];
    const exitedEarly = server.exited(20_000).then(
      (code) => `exited with ${code}`,
      () => 'still running',
    );
    const outcome = await Promise.race([
      server.waitForLog(/room ttl-away not deleted after its TTL/, 10_000).then(() => 'logged'),
      exitedEarly,
    ]);
    expect(outcome).toBe('logged');
    proxy.refuse(false);
    // Taken up again and closed for good, by the same process.
    await waitUntil(async () => !(await roomIdsOf(c.url(0))).includes('ttl-away'), 15_000);
    await expect(server.exited(10)).rejects.toThrow(/still running/);
    expect(server.log).not.toMatch(/unhandled|UnhandledPromiseRejection/i);
  }, 40_000);
});

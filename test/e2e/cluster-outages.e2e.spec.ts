/**
 * A cluster through outages of PostgreSQL and Redis that leave work half done: what was
 * refused meanwhile is done again once the service is back, and no instance crashes or keeps
 * a user online for ever. Short leases keep the tests short.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { roomIdsOf, TestCluster, waitUntil } from '../support/cluster.js';
import { connectOf, disconnectOf } from '../support/e2e.js';
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

  it('should count the sockets and departures of a Redis outage once it is back: nobody stays online for ever', async () => {
    const c = await start({ proxyRedis: true, env: { PRESENCE_GRACE_MS: '300' } });
    const watcher = await c.clients[1].as('o-watch');
    const leaving = await c.clients[0].as('o-leaving');
    const proxy = c.redisProxy!;
    proxy.refuse(true);
    proxy.cut();
    await waitUntil(async () => (await fetch(`${c.url(0)}/ready`)).status === 503, 5000);
    // During the outage one user leaves (Redis does not hear of it), another one comes.
    leaving.close();
    await c.servers[0].waitForLog(/presence of o-leaving not updated/, 5000);
    const late = await c.clients[0].as('o-late');
    proxy.refuse(false);
    await c.servers[0].waitForLog(/presence of \d+ users restored/, 10_000);
    await watcher.waitFor(disconnectOf('o-leaving'), 5000);
    // The socket that came during the outage is counted in Redis: its close counts too.
    late.close();
    await watcher.waitFor(disconnectOf('o-late'), 5000);
    const { users } = await watcher.ok('user:list');
    expect(users.map((u) => u.id)).toEqual(['o-watch']);
  }, 40_000);

  it('should clean up after an instance that died during a Redis outage once Redis is back', async () => {
    const c = await start({ proxyRedis: true });
    const watcher = await c.clients[1].as('o-watch');
    await c.clients[0].as('o-dead');
    // Counted online across the cluster (the watcher heard of it) before Redis goes away.
    await watcher.waitFor(connectOf('o-dead'), 5000);
    const proxy = c.redisProxy!;
    proxy.refuse(true);
    proxy.cut();
    c.servers[0].signal('SIGKILL');
    // The survivor cannot clean up after it while Redis is away...
    await c.servers[1].waitForLog(/cleaning up after \S+ failed/, 4 * LEASE_MS + 5000);
    proxy.refuse(false);
    // ... and does once it is back.
    await watcher.waitFor(disconnectOf('o-dead'), 4 * LEASE_MS + 5000);
    const { users } = await watcher.ok('user:list');
    expect(users.map((u) => u.id)).toEqual(['o-watch']);
  }, 40_000);
});

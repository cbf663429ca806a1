/**
 * Presence across instances in a real Redis (a prefix of the test's own): who is online, and
 * what is cleaned up after an instance that died or stopped.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisPresence } from '../../src/users/redis-presence.js';
import { deleteRedisKeys } from '../support/cluster.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';

const describeRedis = (await serviceAvailable('redis')) ? describe : describe.skip;

describeRedis(RedisPresence.name, () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  let prefix: string;
  let a: RedisPresence;
  let b: RedisPresence;
  const user = { id: 'u1', name: 'U1' };

  beforeEach(() => {
    prefix = `test-presence-${randomBytes(4).toString('hex')}:`;
    a = new RedisPresence(() => redis, prefix, 'A', 0);
    b = new RedisPresence(() => redis, prefix, 'B', 0);
  });

  afterEach(async () => {
    await deleteRedisKeys(prefix);
  });

  afterAll(() => {
    redis.disconnect();
  });

  it('should reap a user whose grace was running on an instance that died', async () => {
    expect(await a.admit(user.id, 10)).toBe(true);
    expect((await a.arrived(user)).announce).toBe(true);
    await a.release(user.id); // its last socket closed: A's presence grace runs
    // A dies (kill -9), or stops (its grace timers never fire), before the user departs.
    expect(await b.reap('A')).toEqual([{ user, toEveryone: true }]);
    expect(await b.onlineRef(user.id)).toBeUndefined();
    expect(await b.list()).toEqual([]);
  });

  it('should not reap a user that came back on another instance during its grace', async () => {
    await a.admit(user.id, 10);
    await a.arrived(user);
    await a.release(user.id);
    await b.admit(user.id, 10);
    expect((await b.arrived(user)).announce).toBe(false);
    expect(await b.reap('A')).toEqual([]);
    expect(await b.list()).toEqual([user]);
  });

  it('should forget the user on an instance once it departed there', async () => {
    await a.admit(user.id, 10);
    await a.arrived(user);
    await b.admit(user.id, 10);
    await a.release(user.id);
    // A's grace ends while the user is still on B: no announcement, and A is done with it.
    expect((await a.departed(user)).announce).toBe(false);
    expect(await redis.smembers(a.instance('A'))).toEqual([]);
    await b.release(user.id);
    expect((await b.departed(user)).announce).toBe(true);
    expect(await redis.smembers(b.instance('B'))).toEqual([]);
  });
});

/**
 * A cluster through failures: an owner killed, frozen or stopped, Redis or PostgreSQL gone for
 * a while. In each: no acknowledged message lost, no seq with two ids, nothing delivered twice,
 * seqs gapless, and the chat usable again within seconds. Short leases keep the tests short.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import { deleteRedisKeys, TestCluster } from '../support/cluster.js';
import { disconnected, type TestClient } from '../support/chat-app.js';
import { disconnectOf, leaveOf, withId } from '../support/e2e.js';
import { serviceAvailable } from '../support/services.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

const LEASE_MS = 1500;

/** Sends a message every `everyMs` until stopped; keeps each reply with when it came. */
class Sender {
  readonly acked: ChatMessage[] = [];
  readonly refused: Array<{ code: string; at: number }> = [];
  #running = true;
  #done: Promise<void>;

  constructor(client: TestClient, roomId: string, everyMs = 50) {
    this.#done = (async () => {
      for (let i = 0; this.#running; i++) {
        const reply = await client.request(
          'room:message',
          { roomId, content: `tick ${i}`, clientMsgId: `${roomId}-${i}` },
          15_000,
        );
        if (reply.ok) this.acked.push((reply as unknown as { message: ChatMessage }).message);
        else this.refused.push({ code: reply.error.code, at: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** Every event of a room in history: seqs gapless from 1, ids unique. */
async function expectWholeHistory(reader: TestClient, roomId: string): Promise<ChatMessage[]> {
  const events: ChatMessage[] = [];
  let since = 0;
  for (;;) {
    const page = await reader.ok('room:join', { roomId, since });
    events.push(...page.messages);
    if (page.more !== true) break;
    since = page.messages.at(-1)!.seq!;
  }
  const seqs = events.map((m) => m.seq!);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(new Set(events.map((m) => m.id)).size).toBe(events.length);
  return events;
}

/** No seq received twice by one client. */
function expectNoRepeats(client: TestClient, roomId: string): void {
  const seqs = client.received.filter((m) => m.roomId === roomId && m.seq !== undefined);
  expect(new Set(seqs.map((m) => m.seq)).size).toBe(seqs.length);
}

describeCluster('a cluster through failures', () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  }, 30_000);

  async function twoInstances(options: ConstructorParameters<typeof TestCluster>[0] = {}) {
    cluster = await new TestCluster({
      ...options,
      env: { CLUSTER_LEASE_MS: String(LEASE_MS), ...options.env },
    }).start();
    return cluster;
  }

  it('should move an owner’s rooms within 5 s when it is killed, and tell its users’ rooms', async () => {
    const c = await twoInstances();
    const owner = await c.clients[0].as('k-amy');
    const other = await c.clients[1].as('k-ben');
    await owner.ok('room:create', { roomId: 'k' }); // owned by the first instance
    await other.ok('room:join', { roomId: 'k' });
    const sender = new Sender(other, 'k');
    await other.waitForCount((m) => m.roomId === 'k' && m.type === 'room_chat', 10);
    const lastSeenByAmy = Math.max(...owner.received.map((m) => m.seq ?? 0));
    const killedAt = Date.now();
    c.servers[0].signal('SIGKILL');
    // Its user leaves its rooms and goes offline, told within 10 s.
    await other.waitFor(leaveOf('k', 'k-amy'), 10_000);
    await other.waitFor(disconnectOf('k-amy'), 10_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    // Sends go on: the first acked after the kill came within 5 s, and none got BUSY.
    await other.waitForCount((m) => m.roomId === 'k' && m.type === 'room_chat', 30, 15_000);
    await sender.stop();
    const afterKill = sender.acked.find((m) => Date.parse(m.timestamp) > killedAt);
    expect(afterKill).toBeDefined();
    expect(Date.parse(afterKill!.timestamp) - killedAt).toBeLessThan(5000);
    expect(sender.refused).toEqual([]);
    // Amy comes back on the other instance and resumes with since: everything, once.
    const back = await c.clients[1].as('k-amy');
    const { messages } = await back.ok('room:join', { roomId: 'k', since: lastSeenByAmy });
    expect(messages[0].seq).toBe(lastSeenByAmy + 1);
    const history = await expectWholeHistory(back, 'k');
    const stored = new Set(history.map((m) => m.id));
    expect(sender.acked.filter((m) => !stored.has(m.id))).toEqual([]);
    expectNoRepeats(other, 'k');
  }, 60_000);

  it('should move a frozen owner’s rooms, and the owner commits nothing to them after it wakes', async () => {
    const c = await twoInstances();
    const owner = await c.clients[0].as('s-cid');
    const other = await c.clients[1].as('s-dee');
    await owner.ok('room:create', { roomId: 's' });
    await other.ok('room:join', { roomId: 's' });
    const sender = new Sender(other, 's');
    await other.waitForCount((m) => m.roomId === 's' && m.type === 'room_chat', 5);
    const stoppedAt = Date.now();
    c.servers[0].signal('SIGSTOP');
    await other.waitForCount(
      (m) => m.roomId === 's' && m.type === 'room_chat' && Date.parse(m.timestamp) > stoppedAt,
      3,
      10_000,
    );
    const movedAfter = Date.now() - stoppedAt;
    expect(movedAfter).toBeLessThan(5000 + LEASE_MS);
    await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS));
    c.servers[0].signal('SIGCONT');
    // Counted gone by the others, the woken instance makes its clients reconnect; they come
    // back and go on with since.
    await disconnected(owner, 10_000);
    const lastSeen = Math.max(...owner.received.map((m) => m.seq ?? 0));
    const back = await c.clients[0].as('s-cid');
    const { messages } = await back.ok('room:join', { roomId: 's', since: lastSeen });
    expect(messages[0]?.seq).toBe(lastSeen + 1);
    await expect(back.ok('room:message', { roomId: 's', content: 'awake' })).resolves.toBeDefined();
    await other.waitForCount((m) => m.roomId === 's' && m.type === 'room_chat', 40, 15_000);
    await sender.stop();
    await expectWholeHistory(other, 's');
    expectNoRepeats(other, 's');
    expect(c.servers[0].log).toMatch(/no heartbeat for|moved to another instance|no longer served/);
  }, 60_000);

  it('should hand an owner’s rooms over at a graceful stop, without waiting for its lease', async () => {
    const c = await twoInstances({ env: { CLUSTER_LEASE_MS: '10000' } });
    const owner = await c.clients[0].as('t-eve');
    const other = await c.clients[1].as('t-fay');
    await owner.ok('room:create', { roomId: 't' });
    await other.ok('room:join', { roomId: 't' });
    await other.ok('room:message', { roomId: 't', content: 'before' });
    expect(await c.servers[0].stop('SIGTERM')).toBe(0);
    const started = Date.now();
    const { message } = await other.ok('room:message', { roomId: 't', content: 'after' });
    // Well inside the 10 s lease: the room was handed back, not waited out.
    expect(Date.now() - started).toBeLessThan(3000);
    await other.waitFor(withId(message.id));
    await expectWholeHistory(other, 't');
  }, 60_000);

  it('should go on through a Redis restart: local rooms keep going, others are BUSY fast, and all is whole again after', async () => {
    const c = await twoInstances({ proxyRedis: true, env: { PRESENCE_GRACE_MS: '1000' } });
    const a = await c.clients[0].as('r-gil');
    const b = await c.clients[1].as('r-hue');
    await a.ok('room:create', { roomId: 'ra' }); // owned by the first instance
    await b.ok('room:create', { roomId: 'rb' }); // owned by the second
    await b.ok('room:join', { roomId: 'ra' });
    await a.ok('room:join', { roomId: 'rb' });
    await a.ok('room:message', { roomId: 'ra', content: 'before' });
    const proxy = c.redisProxy!;
    proxy.refuse(true);
    proxy.cut();
    await waitUntil(async () => (await fetch(`${c.url(0)}/ready`)).status === 503, 5000);
    const ready = (await (await fetch(`${c.url(0)}/ready`)).json()) as {
      error: Record<string, unknown>;
    };
    expect(Object.keys(ready.error)).toContain('redis');
    // A room owned by this instance goes on; one owned by the other answers BUSY, fast.
    await expect(a.ok('room:message', { roomId: 'ra', content: 'during' })).resolves.toBeDefined();
    const started = Date.now();
    const remote = await a.request('room:message', { roomId: 'rb', content: 'during' });
    expect(remote).toMatchObject({ ok: false, error: { code: 'BUSY' } });
    expect(Date.now() - started).toBeLessThan(2000);
    // Redis comes back empty (it keeps nothing on disk).
    await deleteRedisKeys(c.prefix);
    proxy.refuse(false);
    const backAt = Date.now();
    // Sockets that may have missed broadcasts are made to rejoin with since.
    const { client: bAgain, seen: bSeen } = await rejoin(c, 1, 'r-hue', b, ['ra', 'rb']);
    const { client: aAgain } = await rejoin(c, 0, 'r-gil', a, ['ra', 'rb']);
    await waitUntil(async () => {
      const reply = await aAgain.request('room:message', { roomId: 'rb', content: 'after' });
      return reply.ok;
    }, 10_000);
    expect(Date.now() - backAt).toBeLessThan(10_000);
    const { users } = await bAgain.ok('user:list');
    expect(users.map((u) => u.id).sort()).toEqual(['r-gil', 'r-hue']);
    // Every member has every event of ra, the one written during the outage included.
    const everything = [...bSeen, ...bAgain.received];
    expect(everything.find((m) => m.roomId === 'ra' && m.content === 'during')).toBeDefined();
    await expectWholeHistory(bAgain, 'ra');
    // Nobody was told the rejoining users left.
    expect(bAgain.received.filter(disconnectOf('r-gil'))).toEqual([]);
  }, 60_000);

  it('should show nothing of a killed earlier run: no stale users, no room left owned', async () => {
    const c = await twoInstances({ instances: 1 });
    const ghost = await c.clients[0].as('g-old');
    await ghost.ok('room:create', { roomId: 'g' });
    await ghost.ok('room:message', { roomId: 'g', content: 'before' });
    c.servers[0].signal('SIGKILL');
    await c.servers[0].exited();
    // A new run on the same database and prefix.
    const next = await c.addInstance();
    const fresh = await c.clients[next].as('g-new');
    // Within a couple of leases the old run's user is gone and its room is served again.
    await waitUntil(
      async () => {
        const { users } = await fresh.ok('user:list');
        return users.every((u) => u.id !== 'g-old');
      },
      4 * LEASE_MS + 2000,
    );
    const { messages } = await fresh.ok('room:join', { roomId: 'g' });
    expect(messages.filter((m) => m.content === 'before')).toHaveLength(1);
    expect(messages.some((m) => m.type === 'room_leave' && m.user?.id === 'g-old')).toBe(true);
    await expect(
      fresh.ok('room:message', { roomId: 'g', content: 'after' }),
    ).resolves.toBeDefined();
  }, 60_000);

  it('should answer BUSY while PostgreSQL is away, ack nothing meanwhile, and be whole soon after', async () => {
    const c = await twoInstances({ proxyPostgres: true });
    const a = await c.clients[0].as('p-ida');
    const b = await c.clients[1].as('p-jan');
    await a.ok('room:create', { roomId: 'p' });
    await b.ok('room:join', { roomId: 'p' });
    await b.ok('room:message', { roomId: 'p', content: 'before' });
    const proxy = c.postgresProxy!;
    proxy.refuse(true);
    proxy.cut();
    const cutAt = Date.now();
    const during: Array<Awaited<ReturnType<TestClient['request']>>> = [];
    for (const sender of [a, b, a, b]) {
      const started = Date.now();
      const reply = await sender.request('room:message', { roomId: 'p', content: 'away?' }, 15_000);
      expect(Date.now() - started).toBeLessThan(5000);
      during.push(reply);
    }
    expect(during.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(4).fill('BUSY'));
    // Away for longer than the instances' leases: they lapse, and nobody may take them over.
    await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS - (Date.now() - cutAt)));
    proxy.refuse(false);
    const backAt = Date.now();
    await waitUntil(
      async () => (await b.request('room:message', { roomId: 'p', content: 'after' })).ok,
      10_000,
    );
    expect(Date.now() - backAt).toBeLessThan(10_000);
    const history = await expectWholeHistory(b, 'p');
    expect(history.filter((m) => m.content === 'away?')).toEqual([]);
    expectNoRepeats(b, 'p');
  }, 60_000);
});

/**
 * A client that was closed to rejoin (or not): connects again to the same instance and joins
 * its rooms with since, as the project's clients do. Answers it, and every message the user
 * has seen, before and after.
 */
async function rejoin(
  c: TestCluster,
  instance: number,
  userId: string,
  before: TestClient,
  roomIds: string[],
): Promise<{ client: TestClient; seen: ChatMessage[] }> {
  await disconnected(before, 15_000).catch(() => undefined);
  const client = await c.clients[instance].as(userId);
  const seen = [...before.received];
  for (const roomId of roomIds) {
    const since = Math.max(0, ...seen.filter((m) => m.roomId === roomId).map((m) => m.seq ?? 0));
    const { messages } = await client.ok('room:join', { roomId, since });
    seen.push(...messages);
  }
  return { client, seen };
}

/** Polls an outcome that no event announces (readiness, a room coming back). */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

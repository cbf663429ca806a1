/**
 * Operating the service (issue #7): GET /metrics in Prometheus text format, GET /health
 * (liveness) and GET /ready (readiness: every configured backend answers, or 503 naming the
 * one that does not). Real apps on port 0, real sockets, real PostgreSQL and Redis.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadinessService } from '../../src/health/readiness.service.js';
import { RedisConnection } from '../../src/redis/redis.connection.js';
import { Clients, startApp, type RunningApp } from '../support/chat-app.js';
import { useApp } from '../support/e2e.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable, uniqueSchema } from '../support/services.js';
import { dropPostgresSchema } from '../support/store-kits.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** One scrape: `sample('name{label="x"}')` is that series' value, undefined when absent. */
async function scrape(app: RunningApp): Promise<{ text: string; sample(key: string): number }> {
  const res = await fetch(`${app.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return {
    text,
    sample(key: string): number {
      const value = samples.get(key);
      if (value === undefined) throw new Error(`no sample ${key} in /metrics`);
      return value;
    },
  };
}

async function getJson(app: RunningApp, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${app.url}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('GET /metrics', () => {
  const h = useApp();

  it('should count events in, messages out, deliveries, rejections and latencies', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    for (let i = 0; i < 3; i++) {
      await alice.ok('room:message', { roomId: 'general', content: `hello ${i}` });
    }
    await bob.waitForCount((m) => m.type === 'room_chat', 3);
    await bob.ok('private:message', { to: 'alice', content: 'psst' });
    expect(await bob.request('room:message', { roomId: 'general', content: '   ' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD' },
    });
    expect(await bob.request('room:message', { roomId: 'nowhere', content: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    await bob.request('no:such:event' as 'room:list', {});
    expect(await h.clients.refused({ userId: 'bad id' })).toBe('INVALID_AUTH');

    const { sample } = await scrape(h.app);

    expect(sample('chat_messages_in_total{event="room:message"}')).toBe(5);
    expect(sample('chat_messages_in_total{event="room:join"}')).toBe(2);
    expect(sample('chat_messages_in_total{event="unknown"}')).toBe(1);
    // One broadcast a message, written to both members' sockets.
    expect(sample('chat_messages_out_total{type="room_chat"}')).toBe(3);
    expect(sample('chat_deliveries_total{type="room_chat"}')).toBe(6);
    expect(sample('chat_deliveries_total{type="private_chat"}')).toBe(2);
    expect(sample('chat_rejected_total{code="INVALID_PAYLOAD"}')).toBe(2); // blank + unknown event
    expect(sample('chat_rejected_total{code="NOT_FOUND"}')).toBe(1);
    expect(sample('chat_handshakes_refused_total{code="INVALID_AUTH"}')).toBe(1);
    expect(sample('chat_rejected_total{code="BUSY"}')).toBe(0);
    expect(sample('chat_ack_latency_seconds_count{event="room:message"}')).toBe(5);
    expect(sample('chat_ack_latency_seconds_bucket{event="room:message",le="+Inf"}')).toBe(5);
    expect(sample('chat_ack_latency_seconds_sum{event="room:message"}')).toBeGreaterThan(0);
    expect(sample('chat_delivery_latency_seconds_count{type="room_chat"}')).toBe(3);
    expect(sample('chat_delivery_latency_seconds_count{type="private_chat"}')).toBe(1);

    expect(sample('chat_sockets_connected')).toBe(2);
    expect(sample('chat_users_online')).toBe(2);
    expect(sample('chat_rooms')).toBe(3);
    expect(sample('chat_jobs_executed_total')).toBeGreaterThan(0);
    expect(sample('chat_jobs_failed_total')).toBeGreaterThanOrEqual(0);
    expect(sample('chat_jobs_dropped_total')).toBe(0);
    expect(sample('chat_worker_loop_restarts_total')).toBe(0);
    expect(sample('chat_mailbox_depth_max')).toBeGreaterThanOrEqual(0);
    expect(sample('chat_mailbox_depth_total')).toBeGreaterThanOrEqual(0);
    // Standard process metrics, event-loop delay among them.
    expect(sample('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('should report counters that only grow, scrape after scrape', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'dev' });
    await alice.ok('room:message', { roomId: 'dev', content: 'one' });
    const first = await scrape(h.app);
    const again = await scrape(h.app);
    await alice.ok('room:message', { roomId: 'dev', content: 'two' });
    const later = await scrape(h.app);

    const key = 'chat_messages_in_total{event="room:message"}';
    expect([first.sample(key), again.sample(key), later.sample(key)]).toEqual([1, 1, 2]);
    const executed = 'chat_jobs_executed_total';
    expect(later.sample(executed)).toBeGreaterThan(first.sample(executed));
  });

  it('should keep two apps in one process apart', async () => {
    const other = await startApp();
    const clients = new Clients(() => other.url);
    try {
      const carol = await clients.as('carol');
      await carol.ok('room:join', { roomId: 'game' });
      await carol.ok('room:message', { roomId: 'game', content: 'only here' });

      expect((await scrape(other)).sample('chat_messages_out_total{type="room_chat"}')).toBe(1);
      expect((await scrape(h.app)).sample('chat_messages_out_total{type="room_chat"}')).toBe(0);
      expect((await scrape(h.app)).sample('chat_sockets_connected')).toBe(0);
    } finally {
      clients.closeAll();
      await other.close();
    }
  });
});

describe('store metrics on SQLite', () => {
  let dataDir: string;
  let app: RunningApp | undefined;
  const clients = new Clients(() => app?.url ?? '');

  afterEach(async () => {
    clients.closeAll();
    await app?.close();
    app = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should time group-committed batches and count their writes', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-ops-'));
    app = await startApp({ STORE: 'sqlite', DATA_DIR: dataDir });
    const alice = await clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        alice.ok('room:message', { roomId: 'general', content: `m${i}` }),
      ),
    );

    const { sample } = await scrape(app);
    // 3 default rooms at start, a join and 20 messages: every write, in fewer batches.
    const writes = sample('chat_store_batch_size_sum');
    const batches = sample('chat_store_batch_size_count');
    expect(writes).toBe(24);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThanOrEqual(writes);
    expect(sample('chat_store_commit_seconds_count')).toBe(batches);
    expect(sample('chat_store_write_failures_total')).toBe(0);
    expect((await getJson(app, '/ready')).body).toMatchObject({
      status: 'ok',
      details: { sqlite: { status: 'up' }, server: { status: 'up' } },
    });
  });
});

describe('GET /health and GET /ready', () => {
  const h = useApp();

  it('should answer /health with exactly { status: "ok" }', async () => {
    expect(await getJson(h.app, '/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('should answer /ready with 200 when the store answers', async () => {
    const { status, body } = await getJson(h.app, '/ready');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', info: { memory: { status: 'up' } }, error: {} });
  });

  it('should answer /ready with 503 naming the server once a shutdown has begun', async () => {
    h.app.app.get(ReadinessService).markDraining();

    const { status, body } = await getJson(h.app, '/ready');
    expect(status).toBe(503);
    expect(body).toMatchObject({
      error: { server: { status: 'down', message: 'shutting down' } },
      info: { memory: { status: 'up' } },
    });
    expect((await getJson(h.app, '/health')).status).toBe(200);
  });
});

const postgresUp = await serviceAvailable('postgres');

describe.each(postgresUp ? ['postgres'] : [])('GET /ready on %s', () => {
  const schema = uniqueSchema('chat_ready');
  let proxy: TcpProxy;
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await proxy.close();
    await dropPostgresSchema(schema);
  });

  it('should answer 503 naming postgres while it is unreachable, and 200 once it is back', async () => {
    let viaProxy: string;
    [proxy, viaProxy] = await TcpProxy.inFront(POSTGRES_URL, 5432);
    app = await startApp({
      STORE: 'postgres',
      DATABASE_URL: viaProxy,
      DATABASE_SCHEMA: schema,
    });
    expect(await getJson(app, '/ready')).toMatchObject({
      status: 200,
      body: { status: 'ok', info: { postgres: { status: 'up' } } },
    });

    proxy.refuse(true);
    proxy.cut();
    const down = await getJson(app, '/ready');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'error',
      error: { postgres: { status: 'down', message: expect.any(String) } },
      info: { server: { status: 'up' } },
    });
    // Liveness does not depend on the backends.
    expect((await getJson(app, '/health')).status).toBe(200);

    proxy.refuse(false);
    expect((await getJson(app, '/ready')).status).toBe(200);
  });
});

const redisUp = await serviceAvailable('redis');

describe.each(redisUp ? ['redis'] : [])('GET /ready with REDIS_URL (%s)', () => {
  let proxy: TcpProxy;
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await proxy.close();
  });

  it('should check Redis too, and answer 503 naming redis while it does not answer', async () => {
    let viaProxy: string;
    [proxy, viaProxy] = await TcpProxy.inFront(REDIS_URL, 6379);
    app = await startApp({ REDIS_URL: viaProxy, REDIS_PREFIX: uniqueSchema('ready') });
    expect(await getJson(app, '/ready')).toMatchObject({
      status: 200,
      body: { info: { redis: { status: 'up' }, memory: { status: 'up' } } },
    });

    proxy.refuse(true);
    proxy.cut();
    const down = await getJson(app, '/ready');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      error: { redis: { status: 'down', message: expect.any(String) } },
      info: { memory: { status: 'up' } },
    });

    // Back once ioredis has reconnected by itself.
    const commands = app.app.get(RedisConnection).commands;
    const reconnected = new Promise((resolve) => commands.once('ready', resolve));
    proxy.refuse(false);
    await reconnected;
    expect((await getJson(app, '/ready')).status).toBe(200);
  });
});

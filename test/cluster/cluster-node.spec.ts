/**
 * An instance's lease in a real PostgreSQL (a schema of the test's own, behind a proxy the
 * test controls): renewed on time whatever the store's other work does, and counted lost on
 * time when PostgreSQL goes silent.
 */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { ClusterNode } from '../../src/cluster/cluster-node.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { PostgresStore } from '../../src/store/postgres/postgres.store.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from '../support/services.js';
import { dropPostgresSchema } from '../support/store-kits.js';

const describePostgres = (await serviceAvailable('postgres')) ? describe : describe.skip;

const LEASE_MS = 900;

/** A TCP proxy in front of PostgreSQL that can go silent: connections stay open, nothing passes. */
class SilentProxy {
  readonly #sockets = new Set<Socket>();
  readonly #server: Server = createServer((client) => this.#accept(client));
  silent = false;

  /** Listens on a free port; answers PostgreSQL's URL with that port. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const url = new URL(POSTGRES_URL);
    url.port = String((this.#server.address() as { port: number }).port);
    return url.toString();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const target = new URL(POSTGRES_URL);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      this.#sockets.add(from);
      from.on('error', () => from.destroy());
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
      from.on('data', (chunk: Buffer) => {
        if (!this.silent) to.write(chunk);
      });
    }
  }
}

describePostgres(ClusterNode.name, () => {
  let proxy: SilentProxy | undefined;
  let store: PostgresStore | undefined;
  let sut: ClusterNode | undefined;
  let schema = '';

  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  afterEach(async () => {
    sut?.onApplicationShutdown();
    await proxy?.close();
    await store?.close();
    await dropPostgresSchema(schema);
    proxy = store = sut = undefined;
  });

  async function start(queryTimeoutMs: number): Promise<ClusterNode> {
    proxy = new SilentProxy();
    const url = await proxy.start();
    schema = uniqueSchema('chat_node');
    store = new PostgresStore({
      url,
      schema,
      historyMaxPerRoom: 100,
      sendTtlMs: 60_000,
      queryTimeoutMs,
    });
    await store.init();
    const config = { clusterMode: true, clusterLeaseMs: LEASE_MS } as AppConfig;
    sut = new ClusterNode(config, store);
    await sut.start();
    return sut;
  }

  /** When the node counts its lease lost (performance.now()), or undefined within `ms`. */
  function leaseLost(node: ClusterNode, ms: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      node.onLeaseLost(() => {
        clearTimeout(timer);
        resolve(performance.now());
      });
    });
  }

  it('should count its lease lost within the lease when PostgreSQL goes silent', async () => {
    const node = await start(500);
    const lost = leaseLost(node, 4 * LEASE_MS);
    const silentAt = performance.now();
    // Nothing comes through any more, and the connections stay open: a black hole.
    proxy!.silent = true;
    const at = await lost;
    expect(at).toBeDefined();
    expect(at! - silentAt).toBeLessThan(LEASE_MS + 300);
    expect(node.holdsLease).toBe(false);
    // The store's own queries give up too (statement_timeout + 2 s), never hang.
    const started = performance.now();
    await expect(store!.findSend('u', 'm')).rejects.toThrow(/timeout/i);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('should keep its lease while every connection of the store waits for a row lock', async () => {
    const node = await start(10_000);
    await store!.cluster.createRoom(
      { id: 'locked', name: 'locked', private: false, createdAt: new Date().toISOString() },
      node.id,
    );
    // Another session holds the room's row: each log read waits up to its lock timeout.
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await holder.query(`SET search_path TO ${schema}`);
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM rooms WHERE id = 'locked' FOR UPDATE`);
      const reads = Array.from({ length: 12 }, () =>
        store!.roomLog('locked', 0).catch(() => undefined),
      );
      expect(await leaseLost(node, 2 * LEASE_MS)).toBeUndefined();
      expect(node.holdsLease).toBe(true);
      await holder.query('COMMIT');
      await Promise.all(reads);
    } finally {
      await holder.end();
    }
  });

  it('should renew its lease through a shutdown’s drain, until it leaves', async () => {
    const node = await start(10_000);
    // Nest's shutdown hooks before the drain (the rooms are still served meanwhile).
    const hooks = node as Partial<{ onModuleDestroy(): void; beforeApplicationShutdown(): void }>;
    hooks.onModuleDestroy?.();
    hooks.beforeApplicationShutdown?.();
    expect(await leaseLost(node, 2 * LEASE_MS)).toBeUndefined();
    expect(node.holdsLease).toBe(true);
    await node.leave(0);
    expect(await store!.cluster.liveInstances()).toEqual([]);
  });
});

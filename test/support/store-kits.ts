/**
 * Every store the service has, each opened the way the store suites need: memory, SQLite
 * (a temporary folder) and PostgreSQL (the real server, in a schema of its own that cleanup
 * drops). PostgreSQL is left out, loudly, when it is unreachable (see services.ts).
 */
import { afterEach, beforeEach } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.store.js';
import type { MessageStore } from '../../src/store/message-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres.store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite.store.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from './services.js';

export interface Retention {
  historyMaxPerRoom: number;
  sendTtlMs: number;
}

export interface StoreKit {
  /** Opens the store (again, for durable ones: same data). */
  open(): Promise<MessageStore>;
  durable: boolean;
  /** The app's environment for this store. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export type StoreKits = Array<[string, () => StoreKit]>;

function memoryKit(retention: Retention): StoreKit {
  const store = new MemoryStore(retention);
  return {
    open: async () => store,
    durable: false,
    env: { STORE: 'memory' },
    cleanup: async () => undefined,
  };
}

function sqliteKit(retention: Retention, synchronous: 'full' | 'normal'): StoreKit {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-store-'));
  return {
    durable: true,
    env: { STORE: 'sqlite', DATA_DIR: dataDir, SQLITE_SYNCHRONOUS: synchronous },
    open: async () => {
      const store = new SqliteStore({ ...retention, dataDir, synchronous });
      await store.init();
      return store;
    },
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** Drops a test's own PostgreSQL schema and everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const store = new PostgresStore({
    url: POSTGRES_URL,
    schema,
    historyMaxPerRoom: 1,
    sendTtlMs: 1,
  });
  await store.dropSchema();
  await store.close();
}

function postgresKit(retention: Retention, schemaPrefix: string): StoreKit {
  const schema = uniqueSchema(schemaPrefix);
  return {
    durable: true,
    env: { STORE: 'postgres', DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema },
    open: async () => {
      const store = new PostgresStore({ ...retention, url: POSTGRES_URL, schema });
      await store.init();
      return store;
    },
    cleanup: () => dropPostgresSchema(schema),
  };
}

/** A fresh kit per call, named for describe.each. */
export async function storeKits(
  retention: Retention,
  options: { schemaPrefix: string; sqliteSynchronous?: 'full' | 'normal' },
): Promise<StoreKits> {
  const postgresUp = await serviceAvailable('postgres');
  return [
    ['memory', () => memoryKit(retention)],
    ['sqlite', () => sqliteKit(retention, options.sqliteSynchronous ?? 'full')],
    ...(postgresUp
      ? [
          ['postgres', () => postgresKit(retention, options.schemaPrefix)] as [
            string,
            () => StoreKit,
          ],
        ]
      : []),
  ];
}

export interface StoreUnderTest {
  /** The open store of the current test. */
  readonly sut: MessageStore;
  readonly kit: StoreKit;
  /** Closes and opens a durable store again (same data); a no-op for memory. */
  reopen(): Promise<void>;
}

/** A fresh store of the kit for every test of the enclosing describe, cleaned up after. */
export function useStore(makeKit: () => StoreKit): StoreUnderTest {
  let kit: StoreKit | undefined;
  let sut: MessageStore | undefined;
  beforeEach(async () => {
    kit = makeKit();
    sut = await kit.open();
  });
  afterEach(async () => {
    await sut?.close();
    await kit?.cleanup();
    sut = undefined;
    kit = undefined;
  });
  return {
    get sut() {
      if (sut === undefined) throw new Error('no store outside a test');
      return sut;
    },
    get kit() {
      if (kit === undefined) throw new Error('no store outside a test');
      return kit;
    },
    async reopen() {
      if (kit === undefined || sut === undefined || !kit.durable) return;
      await sut.close();
      sut = await kit.open();
    },
  };
}

/**
 * The contract v2 migrations (SQLite 3, PostgreSQL 5) on a store written by the service
 * before them: every stored event keeps its place and gets its type and sender, so unread
 * counts and the new events work on history that predates them.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ChatMessage } from '../../src/contract/events.js';
import { createMessage } from '../../src/contract/messages.js';
import type { MessageStore } from '../../src/store/message-store.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres.store.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import Database from '../../src/store/sqlite/sqlite-driver.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite.store.js';
import { POSTGRES_URL, serviceAvailable, uniqueSchema } from '../support/services.js';
import { dropPostgresSchema } from '../support/store-kits.js';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

/** What the service stored before v2: a room, a join and two messages. */
const OLD_EVENTS: ChatMessage[] = [
  createMessage('room_join', { roomId: 'old', seq: 1, user: alice, content: 'Alice joined' }),
  createMessage('room_chat', { roomId: 'old', seq: 2, sender: bob, content: 'hi alice' }),
  createMessage('room_chat', { roomId: 'old', seq: 3, sender: alice, content: 'hi bob' }),
];
const OLD_ROOM = ['old', 'Old', false, null, null, new Date().toISOString(), 3] as const;

/** Works on a store migrated from the old schema: state, unread and new events. */
async function expectMigrated(store: MessageStore): Promise<void> {
  // Bob's message is unread for Alice; her own and the join are not.
  expect((await store.readStates('alice', ['old'])).get('old')).toEqual({
    lastRead: 0,
    unread: 1,
  });
  expect((await store.messageState('old', 2))?.sender).toBe('bob');
  expect(await store.messageState('old', 1)).toBeUndefined();
  await store.appendRoomEvent(
    createMessage('room_edit', { roomId: 'old', seq: 4, sender: bob, content: 'hi!', target: 2 }),
  );
  const page = await store.roomPage('old', { before: 100, limit: 50 }, 'alice');
  expect(page.asOf).toBe(4);
  expect(page.events[1]).toMatchObject({ seq: 2, content: 'hi!', edited: true });
  expect(page.events[0]).toEqual(OLD_EVENTS[0]);
}

describe('SQLite migration 3', () => {
  let dataDir: string | undefined;
  let store: SqliteStore | undefined;

  afterEach(async () => {
    await store?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('should give every stored event its type and sender', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-migrate-'));
    const old = new Database(join(dataDir, 'chat.sqlite'));
    for (const [index, sql] of SQLITE_MIGRATIONS.slice(0, 2).entries()) {
      old.exec(sql);
      old.pragma(`user_version = ${index + 1}`);
    }
    old
      .prepare(
        'INSERT INTO rooms (id, name, private, owner, ttl_seconds, created_at, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(...OLD_ROOM.map((value) => (typeof value === 'boolean' ? Number(value) : value)));
    const insert = old.prepare('INSERT INTO room_events (room_id, seq, body) VALUES (?, ?, ?)');
    for (const event of OLD_EVENTS) insert.run('old', event.seq, JSON.stringify(event));
    old.close();

    store = new SqliteStore({
      dataDir,
      historyMaxPerRoom: 100,
      sendTtlMs: 60_000,
      synchronous: 'normal',
    });
    await store.init();

    await expectMigrated(store);
  });
});

const postgresUp = await serviceAvailable('postgres');

(postgresUp ? describe : describe.skip)('PostgreSQL migration 5', () => {
  const schema = uniqueSchema('chat_migrate');
  let store: PostgresStore | undefined;

  afterEach(async () => {
    await store?.close();
    await dropPostgresSchema(schema);
  });

  it('should give every stored event its type and sender', async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      for (const [index, sql] of POSTGRES_MIGRATIONS.slice(0, 4).entries()) {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [index + 1]);
      }
      await client.query(
        'INSERT INTO rooms (id, name, private, owner, ttl_seconds, created_at, last_seq) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [...OLD_ROOM],
      );
      for (const event of OLD_EVENTS) {
        await client.query('INSERT INTO room_events (room_id, seq, body) VALUES ($1, $2, $3)', [
          'old',
          event.seq,
          JSON.stringify(event),
        ]);
      }
    } finally {
      await client.end();
    }

    store = new PostgresStore({ url: POSTGRES_URL, schema, historyMaxPerRoom: 100, sendTtlMs: 1 });
    await store.init();

    await expectMigrated(store);
  });
});

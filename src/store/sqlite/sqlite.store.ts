import type BetterSqlite3 from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ChatMessage } from '../../contract/events.js';
import type { BatchOutcome } from '../group-commit.js';
import { GroupCommittedStore } from '../group-committed.store.js';
import type {
  EventRow,
  EventsAfter,
  MessageState,
  MessageStore,
  PageBudget,
  PageQuery,
  PendingMemo,
  ReactionRow,
  ReadState,
  RoomLogTail,
  RoomPage,
  SendRecord,
  StoredRoom,
} from '../message-store.js';
import {
  eventsPage,
  messageStateFromRows,
  pageEvents,
  retainedSince,
  storedRoomFromRow,
  withinBudget,
} from '../message-store.js';
import { StoreOpenError } from '../store-errors.js';
import { parseSend, type WriteOp } from '../write-ops.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
// better-sqlite3 12 on Node 20, 13 on Node 22 and newer (the writer thread loads the same).
import Database from './sqlite-driver.js';

export interface SqliteStoreOptions {
  dataDir: string;
  historyMaxPerRoom: number;
  sendTtlMs: number;
  /** 'full' fsyncs every commit (survives power loss); 'normal' survives a process crash. */
  synchronous: 'full' | 'normal';
  /**
   * Tests only: a batch holding an event whose content contains FAULT_COMMIT_THEN_FAIL
   * commits, then is reported failed (a commit whose confirmation was lost).
   */
  faultInjection?: boolean;
}

/** With faultInjection: the content that makes its batch commit and then report a failure. */
export const FAULT_COMMIT_THEN_FAIL = '__fault:commit-then-fail__';

interface RoomRow {
  id: string;
  name: string;
  private: number;
  owner: string | null;
  ttl_seconds: number | null;
  created_at: string;
  last_seq: number;
}

interface BatchReply {
  type: 'batch';
  id: number;
  failures: Array<string | null>;
}

/**
 * The embedded default: one SQLite file under DATA_DIR in WAL mode. Writes are group-
 * committed by a worker thread (one transaction per batch, fsync off the event loop);
 * reads run on this thread over a read connection, which WAL keeps consistent.
 */
export class SqliteStore extends GroupCommittedStore implements MessageStore {
  readonly kind = 'sqlite';
  readonly location: string;
  #db: BetterSqlite3.Database | undefined;
  #worker: Worker | undefined;
  #nextBatch = 0;
  readonly #inFlight = new Map<number, (reply: BatchReply) => void>();
  #workerError: Error | undefined;
  #workerExited = false;

  constructor(private readonly options: SqliteStoreOptions) {
    super(1000);
    this.location = resolve(join(options.dataDir, 'chat.sqlite'));
  }

  async init(): Promise<void> {
    this.#prepareDataDir();
    try {
      const db = new Database(this.location);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      this.#migrate(db);
      this.#db = db;
    } catch (error) {
      throw new StoreOpenError(
        `cannot open the SQLite store at ${this.location}: ${(error as Error).message}. ` +
          'If the file is damaged, move it aside (the service then starts with an empty ' +
          'store) or restore it from a backup.',
      );
    }
    await this.#startWriter();
  }

  async close(): Promise<void> {
    await this.writes.close();
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined && !this.#workerExited) {
      await new Promise<void>((done) => {
        worker.once('exit', () => done());
        worker.postMessage({ type: 'close' });
      });
    }
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  /**
   * The read connection answers and the writer commits a probe write in turn with the
   * batches: a writer stuck on the disk, a full disk or a read-only file make it not ready.
   */
  async ping(): Promise<void> {
    this.#query('SELECT 1').get();
    if (this.#worker === undefined || this.#workerError !== undefined) {
      throw this.#workerError ?? new Error('SQLite writer is not running');
    }
    await this.probeWrite();
  }

  // ---- reads --------------------------------------------------------------------------

  async loadRooms(): Promise<StoredRoom[]> {
    const rooms = this.#query('SELECT * FROM rooms ORDER BY created_at').all() as RoomRow[];
    const invites = this.#query('SELECT room_id, user_id FROM invites').all() as Array<{
      room_id: string;
      user_id: string;
    }>;
    return rooms.map((row) => storedRoomFromRow(row, invites));
  }

  async eventsAfter(
    roomId: string,
    since: number,
    upTo: number,
    budget?: PageBudget,
  ): Promise<EventsAfter> {
    const all = this.#query(
      'SELECT body FROM room_events WHERE room_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    ).all(roomId, since, upTo, budget === undefined ? -1 : budget.limit + 1) as Array<{
      body: string;
    }>;
    const oldest = this.#query('SELECT MIN(seq) AS seq FROM room_events WHERE room_id = ?').get(
      roomId,
    ) as { seq: number | null };
    return eventsPage(all, budget, since, upTo, oldest.seq ?? undefined);
  }

  async eventsBefore(roomId: string, before: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#query(
      'SELECT body FROM room_events WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ).all(roomId, before, limit) as Array<{ body: string }>;
    return rows.reverse().map((row) => JSON.parse(row.body) as ChatMessage);
  }

  async roomLog(roomId: string, since: number): Promise<RoomLogTail> {
    // One writer, and it has answered every earlier write: what is here is final.
    const room = this.#query('SELECT last_seq FROM rooms WHERE id = ?').get(roomId) as
      { last_seq: number } | undefined;
    const rows = this.#query(
      'SELECT body FROM room_events WHERE room_id = ? AND seq > ? ORDER BY seq',
    ).all(roomId, since) as Array<{ body: string }>;
    return {
      lastSeq: room?.last_seq ?? 0,
      events: rows.map((row) => JSON.parse(row.body) as ChatMessage),
    };
  }

  async roomPage(roomId: string, query: PageQuery, viewer: string): Promise<RoomPage> {
    // One read transaction: the state and asOf are of the same moment as the events.
    return this.#readTogether(() => {
      let rows: readonly EventRow[];
      let more = false;
      let complete = true;
      if ('after' in query) {
        const fetched = this.#query(
          `SELECT seq, body, edit, deleted FROM room_events
           WHERE room_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
        ).all(
          roomId,
          query.after,
          query.upTo,
          query.budget === undefined ? -1 : query.budget.limit + 1,
        ) as EventRow[];
        ({ rows, more } = withinBudget(fetched, query.budget));
        const oldest = this.#query('SELECT MIN(seq) AS seq FROM room_events WHERE room_id = ?').get(
          roomId,
        ) as { seq: number | null };
        complete = retainedSince(query.after, query.upTo, oldest.seq ?? undefined);
      } else {
        rows = (
          this.#query(
            `SELECT seq, body, edit, deleted FROM room_events
             WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
          ).all(roomId, query.before, query.limit) as EventRow[]
        ).reverse();
      }
      const reactions =
        rows.length === 0
          ? []
          : (this.#query(
              `SELECT seq, emoji, COUNT(*) AS count, MAX(user_id = ?) AS mine FROM reactions
               WHERE room_id = ? AND seq BETWEEN ? AND ?
               GROUP BY seq, emoji ORDER BY seq, MIN(created_at), emoji`,
            ).all(viewer, roomId, rows[0].seq, rows[rows.length - 1].seq) as ReactionRow[]);
      const room = this.#query('SELECT last_seq FROM rooms WHERE id = ?').get(roomId) as
        { last_seq: number } | undefined;
      return { events: pageEvents(rows, reactions), complete, more, asOf: room?.last_seq ?? 0 };
    });
  }

  async messageState(roomId: string, seq: number): Promise<MessageState | undefined> {
    return this.#readTogether(() => {
      const row = this.#query(
        'SELECT body, type, deleted FROM room_events WHERE room_id = ? AND seq = ?',
      ).get(roomId, seq) as { body: string; type: string; deleted: number } | undefined;
      const reactions =
        row === undefined
          ? []
          : (this.#query(
              `SELECT emoji, user_id FROM reactions WHERE room_id = ? AND seq = ?
               ORDER BY created_at, emoji`,
            ).all(roomId, seq) as Array<{ emoji: string; user_id: string }>);
      return messageStateFromRows(row, reactions);
    });
  }

  async readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    const rows = this.#query(
      `SELECT ids.value AS room_id, COALESCE(rs.last_read, 0) AS last_read,
         (SELECT COUNT(*) FROM room_events e
           WHERE e.room_id = ids.value AND e.seq > COALESCE(rs.last_read, 0)
             AND e.type = 'room_chat' AND e.deleted = 0 AND e.sender <> ?) AS unread
       FROM json_each(?) AS ids
       LEFT JOIN read_state rs ON rs.room_id = ids.value AND rs.user_id = ?`,
    ).all(userId, JSON.stringify(roomIds), userId) as Array<{
      room_id: string;
      last_read: number;
      unread: number;
    }>;
    return new Map(
      rows.map((row) => [row.room_id, { lastRead: row.last_read, unread: row.unread }]),
    );
  }

  async readMark(roomId: string, userId: string): Promise<number> {
    const row = this.#query(
      'SELECT last_read FROM read_state WHERE room_id = ? AND user_id = ?',
    ).get(roomId, userId) as { last_read: number } | undefined;
    return row?.last_read ?? 0;
  }

  async blocksOf(userId: string): Promise<string[]> {
    const rows = this.#query('SELECT blocked_id FROM blocks WHERE user_id = ?').all(
      userId,
    ) as Array<{ blocked_id: string }>;
    return rows.map((row) => row.blocked_id);
  }

  async blocks(userId: string, senderId: string): Promise<boolean> {
    return (
      this.#query('SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?').get(
        userId,
        senderId,
      ) !== undefined
    );
  }

  async findSend(userId: string, clientMsgId: string): Promise<SendRecord | undefined> {
    const row = this.#query(
      'SELECT * FROM sends WHERE user_id = ? AND client_msg_id = ? AND created_at >= ?',
    ).get(userId, clientMsgId, Date.now() - this.options.sendTtlMs) as
      Parameters<typeof parseSend>[0] | undefined;
    return row === undefined ? undefined : parseSend(row);
  }

  async pendingMemos(userId: string, after: number, limit: number): Promise<PendingMemo[]> {
    const rows = this.#query(
      'SELECT position, body FROM memos WHERE recipient = ? AND position > ? ORDER BY position LIMIT ?',
    ).all(userId, after, limit) as Array<{ position: number; body: string }>;
    return rows.map((row) => ({
      memo: JSON.parse(row.body) as ChatMessage,
      position: row.position,
      bytes: row.body.length,
    }));
  }

  // ---- internals ------------------------------------------------------------------------

  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  /** Prepared once per query text: reads run on every join and history request. */
  #query(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      if (this.#db === undefined) throw new Error('SQLite store is not open');
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `read` in one read transaction of the read connection (one snapshot). */
  #readTogether<T>(read: () => T): T {
    if (this.#db === undefined) throw new Error('SQLite store is not open');
    return this.#db.transaction(read)();
  }

  #prepareDataDir(): void {
    const dir = resolve(this.options.dataDir);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new StoreOpenError(`cannot create DATA_DIR ${dir}: ${(error as Error).message}`);
    }
    if (!statSync(dir).isDirectory()) {
      throw new StoreOpenError(`DATA_DIR ${dir} is not a directory`);
    }
  }

  #migrate(db: BetterSqlite3.Database): void {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SQLITE_MIGRATIONS.length) {
      throw new Error(
        `the file has schema version ${current}, newer than this service knows (${SQLITE_MIGRATIONS.length})`,
      );
    }
    for (let version = current + 1; version <= SQLITE_MIGRATIONS.length; version++) {
      db.transaction(() => {
        db.exec(SQLITE_MIGRATIONS[version - 1]);
        db.pragma(`user_version = ${version}`);
      })();
    }
  }

  async #startWriter(): Promise<void> {
    const worker = new Worker(new URL('./sqlite-writer.worker.js', import.meta.url), {
      workerData: {
        file: this.location,
        synchronous: this.options.synchronous.toUpperCase(),
        historyMaxPerRoom: this.options.historyMaxPerRoom,
        faultMarker: this.options.faultInjection === true ? FAULT_COMMIT_THEN_FAIL : null,
      },
    });
    worker.on('message', (reply: BatchReply) => {
      this.#inFlight.get(reply.id)?.(reply);
      this.#inFlight.delete(reply.id);
    });
    const fail = (error: Error): void => {
      this.#workerError ??= error;
      for (const [id, settle] of this.#inFlight) {
        settle({ type: 'batch', id, failures: [error.message] });
      }
      this.#inFlight.clear();
    };
    worker.on('error', fail);
    // An exit while open (not through close()) fails what was in flight instead of hanging it.
    worker.on('exit', (code) => {
      this.#workerExited = true;
      if (this.#worker !== undefined) fail(new Error(`SQLite writer stopped (exit code ${code})`));
    });
    await new Promise<void>((ready, fail) => {
      worker.once('online', ready);
      worker.once('error', fail);
    });
    this.#worker = worker;
  }

  protected commitBatch(ops: readonly WriteOp[]): Promise<BatchOutcome> {
    const worker = this.#worker;
    if (worker === undefined || this.#workerError !== undefined) {
      const reason = this.#workerError ?? new Error('SQLite writer is not running');
      return Promise.resolve({ failures: ops.map(() => reason) });
    }
    const id = this.#nextBatch++;
    return new Promise<BatchOutcome>((done) => {
      this.#inFlight.set(id, (reply) => {
        done({
          failures: ops.map((_, i) => {
            // A worker error answers the whole batch with one reason.
            const failure =
              reply.failures.length === ops.length ? reply.failures[i] : reply.failures[0];
            return failure === null || failure === undefined ? undefined : new Error(failure);
          }),
        });
      });
      worker.postMessage({ type: 'batch', id, ops, sendTtlMs: this.options.sendTtlMs });
    });
  }
}

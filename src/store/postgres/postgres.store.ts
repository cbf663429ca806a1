import pg from 'pg';
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
import { StaleOwnerError, StoreOpenError } from '../store-errors.js';
import {
  parseSend,
  type MemberChange,
  type SendRow,
  type TargetEffect,
  type WriteOp,
} from '../write-ops.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { PostgresCluster } from './postgres-cluster.js';

export interface PostgresStoreOptions {
  url: string;
  /** Schema holding the tables; created when missing. */
  schema: string;
  historyMaxPerRoom: number;
  sendTtlMs: number;
  poolSize?: number;
  /**
   * How long one statement may run on the server (statement_timeout) before it is cancelled;
   * the client gives up on a query 2 s later (a connection that went silent). Default 10 s.
   */
  queryTimeoutMs?: number;
}

// node-postgres returns BIGINT as a string by default; our seqs and times fit a double.
const INT8_OID = 20;

/** Arbitrary, fixed: serialises schema migrations across instances. */
const MIGRATION_LOCK = 7_240_001;

/**
 * A transaction left open by a client that vanished (a dropped connection PostgreSQL has not
 * noticed) holds its rooms' row locks; the server ends it after this long.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;
/** How long reading a room's log waits for an earlier write of the room to finish. */
const ROOM_LOG_LOCK_TIMEOUT_MS = 3_000;
/** A reply's reads: one snapshot (state and asOf of the same moment as the events). */
const SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';
/** Default statement_timeout; see PostgresStoreOptions.queryTimeoutMs. */
const QUERY_TIMEOUT_MS = 10_000;
/** The client waits this much longer than the server's statement_timeout for an answer. */
const CLIENT_TIMEOUT_EXTRA_MS = 2_000;

/**
 * PostgreSQL store for clusters and durable history. Writes are group-committed: one
 * transaction per batch; if a batch fails, each write is retried alone so one bad write
 * never sinks the others.
 */
export class PostgresStore extends GroupCommittedStore implements MessageStore {
  readonly kind = 'postgres';
  readonly location: string;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  /**
   * Cluster mode's shared state (leases, ownership, members, memo claims), on the same pool;
   * heartbeats on a small pool of their own, so a busy or stuck main pool never delays them.
   */
  readonly cluster: PostgresCluster;
  readonly #beatPool: pg.Pool;
  #lastPrune = 0;

  constructor(private readonly options: PostgresStoreOptions) {
    super(500);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
      throw new StoreOpenError(`DATABASE_SCHEMA must be a lower-case SQL identifier`);
    }
    this.#schema = options.schema;
    this.location = describeUrl(options.url, options.schema);
    const statementTimeoutMs = options.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
    const config: pg.PoolConfig = {
      connectionString: options.url,
      // A server that does not answer fails the query (BUSY to clients) instead of hanging it:
      // no connection within 5 s, no statement running past its timeout, no answer at all
      // (a connection gone silent) a little later.
      connectionTimeoutMillis: 5_000,
      query_timeout: statementTimeoutMs + CLIENT_TIMEOUT_EXTRA_MS,
      options:
        `-c search_path=${options.schema} ` +
        `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS} ` +
        `-c statement_timeout=${statementTimeoutMs}`,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === INT8_OID
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    };
    this.#pool = new pg.Pool({ ...config, max: options.poolSize ?? 10 });
    // Heartbeats set their own, shorter timeout on each query.
    this.#beatPool = new pg.Pool({ ...config, max: 2 });
    // The pools report errors of idle clients here; a later query reconnects.
    this.#pool.on('error', () => undefined);
    this.#beatPool.on('error', () => undefined);
    this.cluster = new PostgresCluster(this.#pool, this.#beatPool);
  }

  async init(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw new StoreOpenError(
        `cannot reach PostgreSQL at ${this.location}: ${(error as Error).message}`,
      );
    }
    try {
      await client.query('BEGIN');
      // Migrations (and waiting for another instance's) may take longer than a statement should.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
      await client.query(`SET LOCAL search_path TO ${this.#schema}`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM schema_migrations',
      );
      const current = rows[0]?.version ?? 0;
      if (current > POSTGRES_MIGRATIONS.length) {
        throw new StoreOpenError(
          `schema ${this.#schema} is at version ${current}, newer than this service knows`,
        );
      }
      for (let version = current + 1; version <= POSTGRES_MIGRATIONS.length; version++) {
        await client.query(POSTGRES_MIGRATIONS[version - 1]);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error instanceof StoreOpenError
        ? error
        : new StoreOpenError(
            `cannot migrate PostgreSQL schema ${this.#schema}: ${(error as Error).message}`,
          );
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.writes.close();
    await Promise.all([this.#pool.end(), this.#beatPool.end()]);
  }

  /** A probe write, committed in turn with the other writes: the server takes writes. */
  async ping(): Promise<void> {
    await this.probeWrite();
  }

  /** Drops the schema and everything in it: for tests that made their own. */
  async dropSchema(): Promise<void> {
    await this.#pool.query(`DROP SCHEMA IF EXISTS ${this.#schema} CASCADE`);
  }

  // ---- reads --------------------------------------------------------------------------

  async loadRooms(): Promise<StoredRoom[]> {
    const rooms = await this.#query<{
      id: string;
      name: string;
      private: boolean;
      owner: string | null;
      ttl_seconds: number | null;
      created_at: string;
      last_seq: number;
    }>('SELECT * FROM rooms ORDER BY created_at');
    const invites = await this.#query<{ room_id: string; user_id: string }>(
      'SELECT room_id, user_id FROM invites',
    );
    return rooms.map((row) => storedRoomFromRow(row, invites));
  }

  async eventsAfter(
    roomId: string,
    since: number,
    upTo: number,
    budget?: PageBudget,
  ): Promise<EventsAfter> {
    const all = await this.#query<{ body: string }>(
      'SELECT body FROM room_events WHERE room_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4',
      [roomId, since, upTo, budget === undefined ? null : budget.limit + 1],
    );
    const [oldest] = await this.#query<{ seq: number | null }>(
      'SELECT MIN(seq) AS seq FROM room_events WHERE room_id = $1',
      [roomId],
    );
    return eventsPage(all, budget, since, upTo, oldest?.seq ?? undefined);
  }

  async eventsBefore(roomId: string, before: number, limit: number): Promise<ChatMessage[]> {
    const rows = await this.#query<{ body: string }>(
      'SELECT body FROM room_events WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
      [roomId, before, limit],
    );
    return rows.reverse().map((row) => JSON.parse(row.body) as ChatMessage);
  }

  /**
   * Locks the room's row first: a write whose COMMIT reached the server but whose answer was
   * lost may still be finishing, and its outcome must be final before this read.
   */
  async roomLog(roomId: string, since: number): Promise<RoomLogTail> {
    return this.#transaction('BEGIN', async (client) => {
      await client.query(`SET LOCAL lock_timeout = ${ROOM_LOG_LOCK_TIMEOUT_MS}`);
      const { rows: rooms } = await client.query<{ last_seq: number; owner_epoch: number | null }>(
        'SELECT last_seq, owner_epoch FROM rooms WHERE id = $1 FOR UPDATE',
        [roomId],
      );
      const { rows } = await client.query<{ body: string }>(
        'SELECT body FROM room_events WHERE room_id = $1 AND seq > $2 ORDER BY seq',
        [roomId, since],
      );
      const tail: RoomLogTail = {
        lastSeq: rooms[0]?.last_seq ?? 0,
        events: rows.map((row) => JSON.parse(row.body) as ChatMessage),
      };
      const epoch = rooms[0]?.owner_epoch;
      if (epoch !== undefined && epoch !== null) tail.ownerEpoch = Number(epoch);
      return tail;
    });
  }

  async roomPage(roomId: string, query: PageQuery, viewer: string): Promise<RoomPage> {
    // One snapshot: the state and asOf are of the same moment as the events.
    return this.#transaction(SNAPSHOT, async (client) => {
      let rows: readonly EventRow[];
      let more = false;
      let complete = true;
      if ('after' in query) {
        const fetched = await client.query<EventRow>(
          `SELECT seq, body, edit, deleted FROM room_events
           WHERE room_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
          [
            roomId,
            query.after,
            query.upTo,
            query.budget === undefined ? null : query.budget.limit + 1,
          ],
        );
        ({ rows, more } = withinBudget(fetched.rows, query.budget));
        const oldest = await client.query<{ seq: number | null }>(
          'SELECT MIN(seq) AS seq FROM room_events WHERE room_id = $1',
          [roomId],
        );
        complete = retainedSince(query.after, query.upTo, oldest.rows[0]?.seq ?? undefined);
      } else {
        const fetched = await client.query<EventRow>(
          `SELECT seq, body, edit, deleted FROM room_events
           WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
          [roomId, query.before, query.limit],
        );
        rows = fetched.rows.reverse();
      }
      let reactions: ReactionRow[] = [];
      if (rows.length > 0) {
        const counted = await client.query<ReactionRow>(
          `SELECT seq, emoji, COUNT(*)::int AS count, bool_or(user_id = $1) AS mine
           FROM reactions WHERE room_id = $2 AND seq BETWEEN $3 AND $4
           GROUP BY seq, emoji ORDER BY seq, MIN(created_at), emoji`,
          [viewer, roomId, rows[0].seq, rows[rows.length - 1].seq],
        );
        reactions = counted.rows;
      }
      const room = await client.query<{ last_seq: number }>(
        'SELECT last_seq FROM rooms WHERE id = $1',
        [roomId],
      );
      return {
        events: pageEvents(rows, reactions),
        complete,
        more,
        asOf: room.rows[0]?.last_seq ?? 0,
      };
    });
  }

  async messageState(roomId: string, seq: number): Promise<MessageState | undefined> {
    return this.#transaction(SNAPSHOT, async (client) => {
      const { rows } = await client.query<{ body: string; type: string; deleted: boolean }>(
        'SELECT body, type, deleted FROM room_events WHERE room_id = $1 AND seq = $2',
        [roomId, seq],
      );
      if (rows.length === 0) return undefined;
      const reactions = await client.query<{ emoji: string; user_id: string }>(
        `SELECT emoji, user_id FROM reactions WHERE room_id = $1 AND seq = $2
         ORDER BY created_at, emoji`,
        [roomId, seq],
      );
      return messageStateFromRows(rows[0], reactions.rows);
    });
  }

  async readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    const rows = await this.#query<{ room_id: string; last_read: number; unread: number }>(
      `SELECT ids.id AS room_id, COALESCE(rs.last_read, 0) AS last_read,
         (SELECT COUNT(*)::int FROM room_events e
           WHERE e.room_id = ids.id AND e.seq > COALESCE(rs.last_read, 0)
             AND e.type = 'room_chat' AND NOT e.deleted AND e.sender <> $1) AS unread
       FROM unnest($2::text[]) AS ids(id)
       LEFT JOIN read_state rs ON rs.room_id = ids.id AND rs.user_id = $1`,
      [userId, roomIds],
    );
    return new Map(
      rows.map((row) => [row.room_id, { lastRead: row.last_read, unread: row.unread }]),
    );
  }

  async readMark(roomId: string, userId: string): Promise<number> {
    const [row] = await this.#query<{ last_read: number }>(
      'SELECT last_read FROM read_state WHERE room_id = $1 AND user_id = $2',
      [roomId, userId],
    );
    return row?.last_read ?? 0;
  }

  async blocksOf(userId: string): Promise<string[]> {
    const rows = await this.#query<{ blocked_id: string }>(
      'SELECT blocked_id FROM blocks WHERE user_id = $1',
      [userId],
    );
    return rows.map((row) => row.blocked_id);
  }

  async blocks(userId: string, senderId: string): Promise<boolean> {
    const rows = await this.#query('SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2', [
      userId,
      senderId,
    ]);
    return rows.length > 0;
  }

  async findSend(userId: string, clientMsgId: string): Promise<SendRecord | undefined> {
    const [row] = await this.#query<Parameters<typeof parseSend>[0]>(
      'SELECT * FROM sends WHERE user_id = $1 AND client_msg_id = $2 AND created_at >= $3',
      [userId, clientMsgId, Date.now() - this.options.sendTtlMs],
    );
    return row === undefined ? undefined : parseSend(row);
  }

  async pendingMemos(userId: string, after: number, limit: number): Promise<PendingMemo[]> {
    const rows = await this.#query<{ position: number; body: string }>(
      'SELECT position, body FROM memos WHERE recipient = $1 AND position > $2 ORDER BY position LIMIT $3',
      [userId, after, limit],
    );
    return rows.map((row) => ({
      memo: JSON.parse(row.body) as ChatMessage,
      position: row.position,
      bytes: row.body.length,
    }));
  }

  // ---- internals ------------------------------------------------------------------------

  async #query<Row extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<Row[]> {
    return (await this.#pool.query<Row>(text, values)).rows;
  }

  /**
   * Runs `work` in one transaction opened with `begin` (a snapshot for every query in it). On
   * any error the connection is dropped rather than returned mid-transaction to the pool.
   */
  async #transaction<T>(begin: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    const onLost = (error: Error): void => {
      broken = error;
    };
    client.on('error', onLost);
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.off('error', onLost);
      client.release(broken);
    }
  }

  protected async commitBatch(ops: readonly WriteOp[]): Promise<BatchOutcome> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      return failAll(ops, error);
    }
    // A connection lost between two queries is emitted as 'error' on the client: without a
    // listener it would crash the process. The next query fails anyway; the pool drops it.
    let lost: Error | undefined;
    const onLost = (error: Error): void => {
      lost = error;
    };
    client.on('error', onLost);
    try {
      const whole = await this.#commitTogether(client, ops);
      if (whole === undefined) {
        await this.#maybePrune(client).catch(() => undefined);
        return { failures: ops.map(() => undefined) };
      }
      // The connection is gone: nothing more can be tried on it. If the COMMIT had been sent,
      // the batch may be stored all the same; the writers re-read what they need.
      if (whole.connectionLost) lost ??= whole.error;
      if (lost !== undefined) return failAll(ops, lost);
      // One bad write must not sink the others: retry each on its own.
      const failures: Array<Error | undefined> = [];
      for (const op of ops) {
        if (lost !== undefined) {
          failures.push(lost);
          continue;
        }
        const alone = await this.#commitTogether(client, [op]);
        if (alone?.connectionLost) lost = alone.error;
        failures.push(alone?.error);
      }
      return { failures };
    } finally {
      client.off('error', onLost);
      client.release(lost);
    }
  }

  /** One transaction for `ops`: undefined when it committed, else why and whether the link died. */
  async #commitTogether(
    client: pg.PoolClient,
    ops: readonly WriteOp[],
  ): Promise<{ error: Error; connectionLost: boolean } | undefined> {
    try {
      await client.query('BEGIN');
      for (const op of ops) await this.#apply(client, op);
      await client.query('COMMIT');
      return undefined;
    } catch (failure) {
      const error = failure instanceof Error ? failure : new Error(String(failure));
      try {
        await client.query('ROLLBACK');
        return { error, connectionLost: false };
      } catch {
        return { error, connectionLost: true };
      }
    }
  }

  async #apply(client: pg.PoolClient, op: WriteOp): Promise<void> {
    switch (op.kind) {
      case 'room': {
        const { room } = op;
        await client.query(
          `INSERT INTO rooms (id, name, private, owner, ttl_seconds, created_at, last_seq)
           VALUES ($1, $2, $3, $4, $5, $6, 0)`,
          [
            room.id,
            room.name,
            room.private,
            room.owner ?? null,
            room.ttlSeconds ?? null,
            room.createdAt,
          ],
        );
        return;
      }
      case 'deleteRoom':
        await requireEpoch(client, op.roomId, op.epoch);
        await client.query('DELETE FROM room_events WHERE room_id = $1', [op.roomId]);
        await client.query('DELETE FROM invites WHERE room_id = $1', [op.roomId]);
        await client.query('DELETE FROM room_members WHERE room_id = $1', [op.roomId]);
        await client.query('DELETE FROM reactions WHERE room_id = $1', [op.roomId]);
        await client.query('DELETE FROM read_state WHERE room_id = $1', [op.roomId]);
        await client.query('DELETE FROM rooms WHERE id = $1', [op.roomId]);
        return;
      case 'invite':
        await requireEpoch(client, op.roomId, op.epoch);
        await client.query(
          'INSERT INTO invites (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [op.roomId, op.userId],
        );
        return;
      case 'uninvite':
        await requireEpoch(client, op.roomId, op.epoch);
        await client.query('DELETE FROM invites WHERE room_id = $1 AND user_id = $2', [
          op.roomId,
          op.userId,
        ]);
        return;
      case 'event': {
        // Gapless: the event's seq must follow the room's last one exactly; in cluster mode
        // only the room's current owner may write (the fencing epoch).
        const advanced = await client.query(
          `UPDATE rooms SET last_seq = $2
           WHERE id = $1 AND last_seq = $2 - 1 AND ($3::bigint IS NULL OR owner_epoch = $3)`,
          [op.roomId, op.seq, op.epoch ?? null],
        );
        if (advanced.rowCount !== 1) {
          if (op.epoch !== undefined) await requireEpoch(client, op.roomId, op.epoch);
          throw new Error(`seq ${op.seq} of room ${op.roomId} does not follow the stored seq`);
        }
        if (op.member !== undefined) await changeMember(client, op.roomId, op.member);
        await client.query(
          'INSERT INTO room_events (room_id, seq, type, sender, body) VALUES ($1, $2, $3, $4, $5)',
          [op.roomId, op.seq, op.type, op.sender, op.body],
        );
        if (op.effect !== undefined) await applyEffect(client, op.roomId, op.effect);
        if (op.seq > this.options.historyMaxPerRoom) {
          const cut = op.seq - this.options.historyMaxPerRoom;
          // One round trip: the events retention drops, with their reactions.
          await client.query(
            `WITH dropped AS (DELETE FROM room_events WHERE room_id = $1 AND seq <= $2)
             DELETE FROM reactions WHERE room_id = $1 AND seq <= $2`,
            [op.roomId, cut],
          );
        }
        await insertSend(client, op.send);
        return;
      }
      case 'send':
        await insertSend(client, op.send);
        return;
      case 'memo':
        await client.query(
          'INSERT INTO memos (id, recipient, created_at, body) VALUES ($1, $2, $3, $4)',
          [op.id, op.recipient, op.createdAt, op.body],
        );
        await insertSend(client, op.send);
        return;
      case 'deleteMemos':
        await client.query('DELETE FROM memos WHERE id = ANY($1::text[])', [op.ids]);
        return;
      case 'reads':
        await client.query(
          // Only for rooms that exist: a mark never outlives its room.
          `INSERT INTO read_state (room_id, user_id, last_read)
           SELECT m.room_id, m.user_id, m.last_read
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS m(room_id, user_id, last_read)
           WHERE EXISTS (SELECT 1 FROM rooms r WHERE r.id = m.room_id)
           ON CONFLICT (room_id, user_id)
           DO UPDATE SET last_read = GREATEST(read_state.last_read, excluded.last_read)`,
          [
            op.marks.map((mark) => mark.roomId),
            op.marks.map((mark) => mark.userId),
            op.marks.map((mark) => mark.seq),
          ],
        );
        return;
      case 'block':
        await client.query(
          op.on
            ? 'INSERT INTO blocks (user_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING'
            : 'DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2',
          [op.userId, op.blockedId],
        );
        return;
      case 'probe':
        await client.query(
          `INSERT INTO health (id, checked_at) VALUES (1, $1)
           ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
          [op.at],
        );
        return;
    }
  }

  async #maybePrune(client: pg.PoolClient): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    await client.query('DELETE FROM sends WHERE created_at < $1', [now - this.options.sendTtlMs]);
  }
}

function failAll(ops: readonly WriteOp[], reason: unknown): BatchOutcome {
  const error = reason instanceof Error ? reason : new Error(String(reason));
  return { failures: ops.map(() => error) };
}

/** Cluster mode: the room's owner epoch must still be `epoch` (row-locked till commit). */
async function requireEpoch(
  client: pg.PoolClient,
  roomId: string,
  epoch: number | undefined,
): Promise<void> {
  if (epoch === undefined) return;
  const { rows } = await client.query<{ owner_epoch: number }>(
    'SELECT owner_epoch FROM rooms WHERE id = $1 FOR SHARE',
    [roomId],
  );
  if (rows[0]?.owner_epoch !== epoch) throw new StaleOwnerError(roomId, epoch);
}

/** v2: what a room_edit, room_delete or room_reaction does to its room_chat. */
async function applyEffect(client: pg.PoolClient, roomId: string, effect: TargetEffect) {
  switch (effect.kind) {
    case 'edit':
      await client.query('UPDATE room_events SET edit = $3 WHERE room_id = $1 AND seq = $2', [
        roomId,
        effect.target,
        effect.edit,
      ]);
      return;
    case 'delete':
      await client.query(
        'UPDATE room_events SET deleted = true, edit = NULL WHERE room_id = $1 AND seq = $2',
        [roomId, effect.target],
      );
      await client.query('DELETE FROM reactions WHERE room_id = $1 AND seq = $2', [
        roomId,
        effect.target,
      ]);
      return;
    case 'react':
      if (effect.on) {
        await client.query(
          `INSERT INTO reactions (room_id, seq, emoji, user_id, created_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [roomId, effect.target, effect.emoji, effect.userId, effect.at],
        );
      } else {
        await client.query(
          'DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4',
          [roomId, effect.target, effect.emoji, effect.userId],
        );
      }
      return;
  }
}

async function changeMember(client: pg.PoolClient, roomId: string, member: MemberChange) {
  if (member.joined) {
    await client.query(
      `INSERT INTO room_members (room_id, user_id, name) VALUES ($1, $2, $3)
       ON CONFLICT (room_id, user_id) DO UPDATE SET name = excluded.name`,
      [roomId, member.userId, member.name],
    );
  } else {
    await client.query('DELETE FROM room_members WHERE room_id = $1 AND user_id = $2', [
      roomId,
      member.userId,
    ]);
  }
}

async function insertSend(client: pg.PoolClient, send: SendRow | null): Promise<void> {
  if (send === null) return;
  await client.query(
    `INSERT INTO sends (user_id, client_msg_id, created_at, body, delivered)
     VALUES ($1, $2, $3, $4, $5)`,
    [send.userId, send.clientMsgId, send.createdAt, send.body, send.delivered],
  );
}

/** host:port/database and schema, never the password. */
function describeUrl(url: string, schema: string): string {
  try {
    const parsed = new URL(url);
    return `postgres://${parsed.hostname}:${parsed.port || 5432}${parsed.pathname} schema ${schema}`;
  } catch {
    return `PostgreSQL (schema ${schema})`;
  }
}

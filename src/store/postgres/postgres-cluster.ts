import type pg from 'pg';
import type { ChatMessage, UserRef } from '../../contract/events.js';
import type { PendingMemo, RoomRecord, StoredRoom } from '../message-store.js';
import { storedRoomFromRow } from '../message-store.js';

/** PostgreSQL's clock in ms: every lease is measured on it, never on an instance's own. */
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** Who owns a room, and whether that instance's lease is alive. */
export interface RoomOwner {
  instance: string | undefined;
  epoch: number;
  alive: boolean;
}

/** A room taken over by this instance: its stored state, members and fencing epoch. */
export interface AcquiredRoom extends StoredRoom {
  epoch: number;
  members: UserRef[];
}

interface RoomRow {
  id: string;
  name: string;
  private: boolean;
  owner: string | null;
  ttl_seconds: number | null;
  created_at: string;
  last_seq: number;
}

/**
 * The cluster's shared state in PostgreSQL: instance leases, room ownership with its fencing
 * epoch, stored members, and memo claims. Writes of a room's events check the epoch in their
 * own transaction (PostgresStore); this is everything else an instance asks of the cluster.
 */
export class PostgresCluster {
  constructor(
    private readonly pool: pg.Pool,
    /** Heartbeats and what they read: never waiting behind the main pool's work. */
    private readonly beatPool: pg.Pool = pool,
  ) {}

  /** A query of the heartbeat, given up after `timeoutMs` (a connection gone silent). */
  async #beatQuery<Row extends pg.QueryResultRow>(
    timeoutMs: number,
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<Row>> {
    // node-postgres honours query_timeout per query too; its types only know it per client.
    const query = { text, values, query_timeout: Math.max(1, Math.round(timeoutMs)) };
    return this.beatPool.query<Row>(query as pg.QueryConfig);
  }

  /**
   * Registers or renews this instance's lease. True when its row was not there (its first
   * heartbeat, or the others forgot it: they counted it dead). Gives up after `timeoutMs`.
   */
  async heartbeat(instanceId: string, leaseMs: number, timeoutMs = leaseMs): Promise<boolean> {
    const { rows } = await this.#beatQuery<{ fresh: boolean }>(
      timeoutMs,
      `INSERT INTO instances (id, started_at, lease_until) VALUES ($1, ${NOW_MS}, ${NOW_MS} + $2)
       ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until
       RETURNING (xmax = 0) AS fresh`,
      [instanceId, leaseMs],
    );
    return rows[0]?.fresh === true;
  }

  /**
   * A clean stop: this instance owns no room any more, and its lease ends in `lingerMs`; then
   * the others clean its users up (those that did not come back elsewhere meanwhile).
   */
  async leave(instanceId: string, lingerMs: number): Promise<void> {
    await this.pool.query('UPDATE rooms SET owner_instance = NULL WHERE owner_instance = $1', [
      instanceId,
    ]);
    await this.pool.query(`UPDATE instances SET lease_until = ${NOW_MS} + $2 WHERE id = $1`, [
      instanceId,
      lingerMs,
    ]);
  }

  async liveInstances(timeoutMs = 10_000): Promise<string[]> {
    const { rows } = await this.#beatQuery<{ id: string }>(
      timeoutMs,
      `SELECT id FROM instances WHERE lease_until > ${NOW_MS} ORDER BY id`,
    );
    return rows.map((row) => row.id);
  }

  /** Instances whose lease ended (killed, frozen, cut off): their leftovers need a reaper. */
  async expiredInstances(timeoutMs = 10_000): Promise<string[]> {
    const { rows } = await this.#beatQuery<{ id: string }>(
      timeoutMs,
      `SELECT id FROM instances WHERE lease_until <= ${NOW_MS}`,
    );
    return rows.map((row) => row.id);
  }

  /** Forgets an instance whose lease ended; false when it came back meanwhile. */
  async forgetInstance(instanceId: string, timeoutMs = 10_000): Promise<boolean> {
    const { rowCount } = await this.#beatQuery(
      timeoutMs,
      `DELETE FROM instances WHERE id = $1 AND lease_until <= ${NOW_MS}`,
      [instanceId],
    );
    return rowCount === 1;
  }

  /**
   * A new room, owned by `ownerInstance` from the start: its fencing epoch, or undefined when
   * the id is taken. Epochs come from one sequence, never reused by a room id made again.
   */
  async createRoom(record: RoomRecord, ownerInstance: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ owner_epoch: number }>(
      `INSERT INTO rooms (id, name, private, owner, ttl_seconds, created_at, last_seq,
                          owner_instance, owner_epoch)
       VALUES ($1, $2, $3, $4, $5, $6, 0, $7, nextval('room_owner_epochs'))
       ON CONFLICT (id) DO NOTHING
       RETURNING owner_epoch`,
      [
        record.id,
        record.name,
        record.private,
        record.owner ?? null,
        record.ttlSeconds ?? null,
        record.createdAt,
        ownerInstance,
      ],
    );
    return rows[0]?.owner_epoch;
  }

  /** The room's settings, or undefined when there is no such room. */
  async loadRoom(roomId: string): Promise<StoredRoom | undefined> {
    const { rows } = await this.pool.query<RoomRow>('SELECT * FROM rooms WHERE id = $1', [roomId]);
    if (rows[0] === undefined) return undefined;
    const invites = await this.pool.query<{ room_id: string; user_id: string }>(
      'SELECT room_id, user_id FROM invites WHERE room_id = $1',
      [roomId],
    );
    return storedRoomFromRow(rows[0], invites.rows);
  }

  /** Who owns the room; undefined when there is no such room. */
  async roomOwner(roomId: string): Promise<RoomOwner | undefined> {
    const { rows } = await this.pool.query<{
      owner_instance: string | null;
      owner_epoch: number;
      alive: boolean | null;
    }>(
      `SELECT r.owner_instance, r.owner_epoch, i.lease_until > ${NOW_MS} AS alive
       FROM rooms r LEFT JOIN instances i ON i.id = r.owner_instance WHERE r.id = $1`,
      [roomId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      instance: row.owner_instance ?? undefined,
      epoch: row.owner_epoch,
      alive: row.alive === true,
    };
  }

  /**
   * Takes the room over when nobody owns it, this instance did, or (`fromOthers`) its owner's
   * lease ran out: the owner epoch moves on (to the sequence's next) in the same UPDATE that
   * reads last_seq, so every write of an earlier owner fails from now on. Undefined when
   * another live instance owns it, or the room is gone.
   */
  async acquireRoom(
    roomId: string,
    instanceId: string,
    fromOthers: boolean,
  ): Promise<AcquiredRoom | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<RoomRow & { owner_epoch: number }>(
        `UPDATE rooms SET owner_instance = $2, owner_epoch = nextval('room_owner_epochs')
         WHERE id = $1 AND (owner_instance IS NULL OR owner_instance = $2 OR ($3 AND NOT EXISTS (
           SELECT 1 FROM instances i WHERE i.id = rooms.owner_instance AND i.lease_until > ${NOW_MS})))
         RETURNING *`,
        [roomId, instanceId, fromOthers],
      );
      const row = rows[0];
      if (row === undefined) {
        await client.query('COMMIT');
        return undefined;
      }
      const invites = await client.query<{ room_id: string; user_id: string }>(
        'SELECT room_id, user_id FROM invites WHERE room_id = $1',
        [roomId],
      );
      const members = await client.query<{ user_id: string; name: string }>(
        'SELECT user_id, name FROM room_members WHERE room_id = $1 ORDER BY user_id',
        [roomId],
      );
      await client.query('COMMIT');
      return {
        ...storedRoomFromRow(row, invites.rows),
        epoch: row.owner_epoch,
        members: members.rows.map((m) => ({ id: m.user_id, name: m.name })),
      };
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Hands a room back (a clean stop): the next instance takes it at once. */
  async releaseRoom(roomId: string, instanceId: string, epoch: number): Promise<void> {
    await this.pool.query(
      `UPDATE rooms SET owner_instance = NULL
       WHERE id = $1 AND owner_instance = $2 AND owner_epoch = $3`,
      [roomId, instanceId, epoch],
    );
  }

  /**
   * Rooms no live instance owns, and those `instanceId` owns (`mine`: it knows which of them
   * it serves).
   */
  async orphanRooms(instanceId: string): Promise<Array<{ id: string; mine: boolean }>> {
    const { rows } = await this.pool.query<{ id: string; mine: boolean }>(
      `SELECT r.id, r.owner_instance IS NOT DISTINCT FROM $1 AS mine FROM rooms r
         LEFT JOIN instances i ON i.id = r.owner_instance AND i.lease_until > ${NOW_MS}
       WHERE i.id IS NULL OR r.owner_instance = $1 ORDER BY r.id`,
      [instanceId],
    );
    return rows;
  }

  /** The rooms a user is a member of. */
  async roomsOf(userId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ room_id: string }>(
      'SELECT room_id FROM room_members WHERE user_id = $1',
      [userId],
    );
    return rows.map((row) => row.room_id);
  }

  /** Every room with its members, in one query (room:list, the admin snapshot). */
  async members(): Promise<Map<string, UserRef[]>> {
    const { rows } = await this.pool.query<{ room_id: string; user_id: string; name: string }>(
      'SELECT room_id, user_id, name FROM room_members ORDER BY room_id, user_id',
    );
    const byRoom = new Map<string, UserRef[]>();
    for (const row of rows) {
      const list = byRoom.get(row.room_id) ?? [];
      list.push({ id: row.user_id, name: row.name });
      byRoom.set(row.room_id, list);
    }
    return byRoom;
  }

  /** Open rooms a user created (its room:create cap). */
  async ownedRoomCount(userId: string): Promise<number> {
    const { rows } = await this.pool.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM rooms WHERE owner = $1',
      [userId],
    );
    return rows[0]?.count ?? 0;
  }

  /**
   * The user's pending memos after `after` that no other instance is delivering, claimed by
   * this one for `leaseMs` (row-locked while claimed, SKIP LOCKED for the others): a memo is
   * never delivered by two instances at once.
   */
  async claimMemos(
    userId: string,
    instanceId: string,
    after: number,
    limit: number,
    leaseMs: number,
  ): Promise<PendingMemo[]> {
    const { rows } = await this.pool.query<{ position: number; body: string }>(
      `UPDATE memos SET claimed_by = $2, claimed_until = ${NOW_MS} + $5
       WHERE id IN (
         SELECT id FROM memos
         WHERE recipient = $1 AND position > $3
           AND (claimed_until IS NULL OR claimed_until < ${NOW_MS} OR claimed_by = $2)
         ORDER BY position LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING position, body`,
      [userId, instanceId, after, limit, leaseMs],
    );
    return rows
      .sort((a, b) => a.position - b.position)
      .map((row) => ({
        memo: JSON.parse(row.body) as ChatMessage,
        position: row.position,
        bytes: row.body.length,
      }));
  }
}

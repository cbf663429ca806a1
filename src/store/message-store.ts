import type { ChatMessage } from '../contract/events.js';

/** A room as it survives a restart. Membership does not: rooms restart empty. */
export interface RoomRecord {
  id: string;
  name: string;
  private: boolean;
  /** The creator; rooms made through the admin API have none. */
  owner?: string;
  /** The room closes itself once empty for this long (admin API). */
  ttlSeconds?: number;
  createdAt: string;
}

export interface StoredRoom extends RoomRecord {
  /** Highest seq ever given in this room: the next event gets lastSeq + 1. */
  lastSeq: number;
  invited: string[];
}

/**
 * Cluster mode: what a room's owner adds to each of its writes. The store refuses the write
 * (StaleOwnerError) when the room's owner epoch has moved on; an event may add or remove a
 * stored member. Single-instance stores ignore it.
 */
export interface RoomFence {
  epoch?: number;
  member?: { userId: string; name: string; joined: boolean };
}

/** The first answer to a send with a clientMsgId, replayed on every retry. */
export interface SendRecord {
  userId: string;
  clientMsgId: string;
  message: ChatMessage;
  /** memo:send only: whether the recipient was online. */
  delivered?: boolean;
}

/** The send record of a message: written in the same transaction as the message. */
export function sendRecord(
  userId: string,
  clientMsgId: string,
  message: ChatMessage,
  delivered?: boolean,
): SendRecord {
  return delivered === undefined
    ? { userId, clientMsgId, message }
    : { userId, clientMsgId, message, delivered };
}

export interface EventsAfter {
  events: ChatMessage[];
  /** False when retention dropped events after the cursor. */
  complete: boolean;
  /** True when the page stopped at its limit or byte budget before `upTo`. */
  more: boolean;
}

/** How much one read may return: at most `limit` events, cut once `maxBytes` is reached. */
export interface PageBudget {
  limit: number;
  /** Approximate bytes (stored JSON length); the first event always fits. */
  maxBytes: number;
}

/** A memo waiting for its recipient, with its place in the recipient's queue. */
export interface PendingMemo {
  memo: ChatMessage;
  /** Increases with every memo stored: the cursor of the next page. */
  position: number;
  /** Approximate bytes on the wire (stored JSON length). */
  bytes: number;
}

/** A room's stored log from a seq on: what a room re-reads after a write whose outcome is unknown. */
export interface RoomLogTail {
  /** The room's stored last_seq (0 when the room row is gone). */
  lastSeq: number;
  /** Stored events with seq > since, oldest first. */
  events: ChatMessage[];
  /** Cluster mode: the epoch of the room's owner as stored (another's after a takeover). */
  ownerEpoch?: number;
}

/**
 * Everything the chat keeps: room events with their seq, rooms, invitations, pending memos
 * and the idempotency records of sends. Writes resolve once durable (for durable stores).
 * Writes to one room are issued by its actor in seq order and must resolve in that order.
 */
export interface MessageStore {
  /** 'memory', 'sqlite' or 'postgres', for logs and readiness. */
  readonly kind: string;
  /** Where it keeps its data, for the startup log (never a password). */
  readonly location: string;

  init(): Promise<void>;
  close(): Promise<void>;
  /** Settles once every write submitted so far is durable or failed. */
  flush(): Promise<void>;
  /**
   * Resolves when the store takes writes now (readiness): durable stores commit a small probe
   * write in turn with the other writes; rejects with the reason it does not.
   */
  ping(): Promise<void>;
  /** Durable stores call `observer` after each group-committed batch (metrics). */
  observeWrites?(observer: WriteBatchObserver): void;

  loadRooms(): Promise<StoredRoom[]>;
  createRoom(room: RoomRecord): Promise<void>;
  /** Removes the room with its history and invitations: its id can start afresh. */
  deleteRoom(roomId: string, fence?: RoomFence): Promise<void>;
  addInvite(roomId: string, userId: string, fence?: RoomFence): Promise<void>;
  removeInvite(roomId: string, userId: string, fence?: RoomFence): Promise<void>;

  /** A persisted room event (room_chat, room_join, room_leave), with the send it answers. */
  appendRoomEvent(event: ChatMessage, send?: SendRecord, fence?: RoomFence): Promise<void>;
  /** Events with since < seq <= upTo, oldest first; all of them unless a budget cuts the page. */
  eventsAfter(
    roomId: string,
    since: number,
    upTo: number,
    budget?: PageBudget,
  ): Promise<EventsAfter>;
  /** The newest `limit` events with seq < before, oldest first. */
  eventsBefore(roomId: string, before: number, limit: number): Promise<ChatMessage[]>;
  /**
   * The stored last_seq and the events after `since`, read after any earlier write of the room
   * has finished (PostgreSQL waits for the room row's lock): the truth after a failed write.
   */
  roomLog(roomId: string, since: number): Promise<RoomLogTail>;

  findSend(userId: string, clientMsgId: string): Promise<SendRecord | undefined>;
  /** Records a send that stores nothing else (private:message). */
  recordSend(send: SendRecord): Promise<void>;

  /** Stores a memo for an offline recipient, with the send it answers. */
  addMemo(memo: ChatMessage, send?: SendRecord): Promise<void>;
  /** The user's pending memos with position > `after`, oldest first, at most `limit`. */
  pendingMemos(userId: string, after: number, limit: number): Promise<PendingMemo[]>;
  deleteMemos(ids: readonly string[]): Promise<void>;
}

/** One committed batch: how many writes, how long the commit took, how many failed. */
export type WriteBatchObserver = (size: number, commitMs: number, failed: number) => void;

export const MESSAGE_STORE = Symbol('MessageStore');

/**
 * Whether events after `since` (up to `upTo`) are all still retained, given the oldest
 * retained seq of the room (undefined when it has none).
 */
/**
 * Cuts rows (oldest first) to a budget: at most `limit`, and no more once `maxBytes` is
 * reached, the first row always kept. `more` when rows were left out.
 */
export function withinBudget<Row extends { body: string }>(
  rows: readonly Row[],
  budget: PageBudget | undefined,
): { rows: readonly Row[]; more: boolean } {
  if (budget === undefined) return { rows, more: false };
  let bytes = 0;
  let kept = 0;
  while (kept < rows.length && kept < budget.limit) {
    bytes += rows[kept].body.length;
    if (kept > 0 && bytes > budget.maxBytes) break;
    kept++;
  }
  return { rows: kept === rows.length ? rows : rows.slice(0, kept), more: kept < rows.length };
}

/**
 * The answer to eventsAfter from the stored rows after `since` (oldest first, fetched with a
 * limit one above the budget's) and the room's oldest retained seq.
 */
export function eventsPage(
  fetched: ReadonlyArray<{ body: string }>,
  budget: PageBudget | undefined,
  since: number,
  upTo: number,
  oldest: number | undefined,
): EventsAfter {
  const { rows, more } = withinBudget(fetched, budget);
  return {
    events: rows.map((row) => JSON.parse(row.body) as ChatMessage),
    complete: retainedSince(since, upTo, oldest),
    more,
  };
}

export function retainedSince(since: number, upTo: number, oldest: number | undefined): boolean {
  return since >= upTo || (oldest ?? upTo + 1) <= since + 1;
}

/** A rooms row (SQLite or PostgreSQL) with its invitations, as the service loads it. */
export function storedRoomFromRow(
  row: {
    id: string;
    name: string;
    private: boolean | number;
    owner: string | null;
    ttl_seconds: number | null;
    created_at: string;
    last_seq: number;
  },
  invites: ReadonlyArray<{ room_id: string; user_id: string }>,
): StoredRoom {
  const room: StoredRoom = {
    id: row.id,
    name: row.name,
    private: Boolean(row.private),
    createdAt: row.created_at,
    lastSeq: row.last_seq,
    invited: invites.filter((i) => i.room_id === row.id).map((i) => i.user_id),
  };
  if (row.owner !== null) room.owner = row.owner;
  if (row.ttl_seconds !== null) room.ttlSeconds = row.ttl_seconds;
  return room;
}

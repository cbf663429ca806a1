import type { ChatMessage } from '../chat/chat.events.js';

/** A room as it survives a restart. Membership does not: rooms restart empty. */
export interface RoomRecord {
  id: string;
  name: string;
  private: boolean;
  /** The creator; rooms made through the admin API have none. */
  owner?: string;
  /** Reserved for rooms that close once empty for this long (admin API); stored, not yet acted on. */
  ttlSeconds?: number;
  createdAt: string;
}

export interface StoredRoom extends RoomRecord {
  /** Highest seq ever given in this room: the next event gets lastSeq + 1. */
  lastSeq: number;
  invited: string[];
}

/** The first answer to a send with a clientMsgId, replayed on every retry. */
export interface SendRecord {
  userId: string;
  clientMsgId: string;
  message: ChatMessage;
  /** memo:send only: whether the recipient was online. */
  delivered?: boolean;
}

export interface EventsAfter {
  events: ChatMessage[];
  /** False when retention dropped events after the cursor. */
  complete: boolean;
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
  /** Resolves when the store answers now (readiness); rejects with the reason it does not. */
  ping(): Promise<void>;
  /** Durable stores call `observer` after each group-committed batch (metrics). */
  observeWrites?(observer: WriteBatchObserver): void;

  loadRooms(): Promise<StoredRoom[]>;
  createRoom(room: RoomRecord): Promise<void>;
  /** Removes the room with its history and invitations: its id can start afresh. */
  deleteRoom(roomId: string): Promise<void>;
  addInvite(roomId: string, userId: string): Promise<void>;
  removeInvite(roomId: string, userId: string): Promise<void>;

  /** A persisted room event (room_chat, room_join, room_leave), with the send it answers. */
  appendRoomEvent(event: ChatMessage, send?: SendRecord): Promise<void>;
  /** Events with since < seq <= upTo, oldest first. */
  eventsAfter(roomId: string, since: number, upTo: number): Promise<EventsAfter>;
  /** The newest `limit` events with seq < before, oldest first. */
  eventsBefore(roomId: string, before: number, limit: number): Promise<ChatMessage[]>;

  findSend(userId: string, clientMsgId: string): Promise<SendRecord | undefined>;
  /** Records a send that stores nothing else (private:message). */
  recordSend(send: SendRecord): Promise<void>;

  /** Stores a memo for an offline recipient, with the send it answers. */
  addMemo(memo: ChatMessage, send?: SendRecord): Promise<void>;
  pendingMemos(userId: string): Promise<ChatMessage[]>;
  deleteMemos(ids: readonly string[]): Promise<void>;
}

/** One committed batch: how many writes, how long the commit took, how many failed. */
export type WriteBatchObserver = (size: number, commitMs: number, failed: number) => void;

export const MESSAGE_STORE = Symbol('MessageStore');

/**
 * Whether events after `since` (up to `upTo`) are all still retained, given the oldest
 * retained seq of the room (undefined when it has none).
 */
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

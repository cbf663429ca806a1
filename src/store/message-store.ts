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

/** v2: a room_chat's state, as its room needs it to decide an edit, a deletion or a reaction. */
export interface MessageState {
  /** The sender's user id. */
  sender: string;
  /** The message's timestamp in ms: the edit window counts from it. */
  sentAt: number;
  deleted: boolean;
  /** Emoji -> the users who have it there, in the order the emoji first came. */
  reactions: Map<string, Set<string>>;
}

/** Which events a reply page holds: after a cursor (recovery) or before one (history). */
export type PageQuery =
  { after: number; upTo: number; budget?: PageBudget } | { before: number; limit: number };

/**
 * v2: a page of a room's events for one reader: each room_chat with its state (edits,
 * deletion, reaction counts and the reader's own reactions) as of `asOf`, read in one
 * consistent view with the events.
 */
export interface RoomPage extends EventsAfter {
  /** The room's stored last_seq when the page was read. */
  asOf: number;
}

/** v2: a user's read mark in a room, and the room_chat events after it not its own. */
export interface ReadState {
  lastRead: number;
  unread: number;
}

/** v2: one read mark to store (kept only when it moves forward). */
export interface ReadMark {
  roomId: string;
  userId: string;
  seq: number;
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

  /**
   * v2: a page of events with each room_chat's current state for `viewer` (see RoomPage).
   * `complete` and `more` as in eventsAfter (a `before` page is always complete).
   */
  roomPage(roomId: string, query: PageQuery, viewer: string): Promise<RoomPage>;
  /** v2: the room_chat at `seq` with its state; undefined when no such event is retained. */
  messageState(roomId: string, seq: number): Promise<MessageState | undefined>;
  /** v2: the user's read state in each of these rooms (one query, whatever their number). */
  readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>>;
  /** v2: the user's stored read mark in the room (0 when none): no unread count. */
  readMark(roomId: string, userId: string): Promise<number>;
  /** v2: stores read marks, each only where it moves the stored one forward. */
  saveReadMarks(marks: readonly ReadMark[]): Promise<void>;
  /** v2: `userId` blocks (`on`) or unblocks `blockedId`. */
  setBlock(userId: string, blockedId: string, on: boolean): Promise<void>;
  /** v2: the users `userId` blocks. */
  blocksOf(userId: string): Promise<string[]>;
  /** v2: whether `userId` blocks `senderId`. */
  blocks(userId: string, senderId: string): Promise<boolean>;

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

// ---- v2 state, shared by the SQL stores ---------------------------------------------------

/** A stored event row as the SQL stores read it for a reply page. */
export interface EventRow {
  seq: number;
  body: string;
  /** room_chat: the latest edit as JSON `{ content, editedAt }`, or null. */
  edit: string | null;
  deleted: boolean | number;
}

/** Reaction counts of a page, one row per (seq, emoji), in the emoji's first-come order. */
export interface ReactionRow {
  seq: number;
  emoji: string;
  count: number;
  mine: boolean | number;
}

/** The stored edit of a room_chat. */
export interface StoredEdit {
  content: string;
  editedAt: string;
}

/**
 * A room_chat as a reply shows it: the latest content with `edited` and `editedAt`, or
 * `deleted` with empty content and nothing else; reaction counts and the reader's own.
 */
export function withState(
  event: ChatMessage,
  edit: StoredEdit | undefined,
  deleted: boolean,
  reactions: ReadonlyArray<Pick<ReactionRow, 'emoji' | 'count' | 'mine'>> | undefined,
): ChatMessage {
  if (event.type !== 'room_chat') return event;
  if (deleted) return { ...event, content: '', deleted: true };
  if (edit === undefined && (reactions === undefined || reactions.length === 0)) return event;
  const shown: ChatMessage = { ...event };
  if (edit !== undefined) {
    shown.content = edit.content;
    shown.edited = true;
    shown.editedAt = edit.editedAt;
  }
  if (reactions !== undefined && reactions.length > 0) {
    // Own properties whatever the emoji (`__proto__` is a valid one).
    shown.reactions = Object.fromEntries(reactions.map((r) => [r.emoji, Number(r.count)]));
    const mine = reactions.filter((r) => r.mine).map((r) => r.emoji);
    if (mine.length > 0) shown.myReactions = mine;
  }
  return shown;
}

/** The page's events with their state, from rows (oldest first) and the page's reactions. */
export function pageEvents(
  rows: readonly EventRow[],
  reactions: readonly ReactionRow[],
): ChatMessage[] {
  const bySeq = new Map<number, ReactionRow[]>();
  for (const reaction of reactions) {
    const seq = Number(reaction.seq);
    const list = bySeq.get(seq);
    if (list === undefined) bySeq.set(seq, [reaction]);
    else list.push(reaction);
  }
  return rows.map((row) => {
    const event = JSON.parse(row.body) as ChatMessage;
    const edit = row.edit === null ? undefined : (JSON.parse(row.edit) as StoredEdit);
    return withState(event, edit, Boolean(row.deleted), bySeq.get(event.seq as number));
  });
}

/** The message state of a stored room_chat row and its reactions (user per emoji). */
export function messageStateFromRows(
  row: { body: string; type: string; deleted: boolean | number } | undefined,
  reactions: ReadonlyArray<{ emoji: string; user_id: string }>,
): MessageState | undefined {
  if (row === undefined || row.type !== 'room_chat') return undefined;
  const event = JSON.parse(row.body) as ChatMessage;
  const state: MessageState = {
    sender: event.sender.id,
    sentAt: Date.parse(event.timestamp),
    deleted: Boolean(row.deleted),
    reactions: new Map(),
  };
  for (const { emoji, user_id } of reactions) {
    const users = state.reactions.get(emoji);
    if (users === undefined) state.reactions.set(emoji, new Set([user_id]));
    else users.add(user_id);
  }
  return state;
}

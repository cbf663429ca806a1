import type { ChatMessage } from '../contract/events.js';
import type {
  EventsAfter,
  MessageState,
  MessageStore,
  PageBudget,
  PageQuery,
  PendingMemo,
  ReadMark,
  ReadState,
  RoomLogTail,
  RoomPage,
  RoomRecord,
  SendRecord,
  StoredEdit,
  StoredRoom,
} from './message-store.js';
import { eventsPage, retainedSince, withState, withinBudget } from './message-store.js';
import { targetEffect } from './write-ops.js';

export interface MemoryStoreOptions {
  historyMaxPerRoom: number;
  /** How long a clientMsgId is remembered. */
  sendTtlMs: number;
}

interface RoomData {
  record: RoomRecord;
  lastSeq: number;
  invited: Set<string>;
  /** Retained events, oldest first, seq ascending without gaps. */
  events: ChatMessage[];
  /** v2 state of its room_chat events, by seq. */
  edits: Map<number, StoredEdit>;
  deleted: Set<number>;
  /** seq -> emoji (first-come order) -> users. */
  reactions: Map<number, Map<string, Set<string>>>;
  /** user -> last read seq. */
  reads: Map<string, number>;
}

/** Keeps everything in process memory: for tests and for the benchmark's baseline. */
export class MemoryStore implements MessageStore {
  readonly kind = 'memory';
  readonly location = 'process memory (nothing survives a restart)';
  readonly #rooms = new Map<string, RoomData>();
  readonly #sends = new Map<string, SendRecord & { at: number }>();
  readonly #memos = new Map<string, PendingMemo[]>();
  #memoPosition = 0;
  /** user -> the users it blocks. */
  readonly #blocks = new Map<string, Set<string>>();

  constructor(private readonly options: MemoryStoreOptions) {}

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  async flush(): Promise<void> {}
  /** Process memory always answers. */
  async ping(): Promise<void> {}

  async loadRooms(): Promise<StoredRoom[]> {
    return [...this.#rooms.values()].map((room) => ({
      ...room.record,
      lastSeq: room.lastSeq,
      invited: [...room.invited],
    }));
  }

  async createRoom(room: RoomRecord): Promise<void> {
    this.#rooms.set(room.id, {
      record: { ...room },
      lastSeq: 0,
      invited: new Set(),
      events: [],
      edits: new Map(),
      deleted: new Set(),
      reactions: new Map(),
      reads: new Map(),
    });
  }

  async deleteRoom(roomId: string): Promise<void> {
    this.#rooms.delete(roomId);
  }

  async addInvite(roomId: string, userId: string): Promise<void> {
    this.#rooms.get(roomId)?.invited.add(userId);
  }

  async removeInvite(roomId: string, userId: string): Promise<void> {
    this.#rooms.get(roomId)?.invited.delete(userId);
  }

  async appendRoomEvent(event: ChatMessage, send?: SendRecord): Promise<void> {
    const room = this.#rooms.get(event.roomId as string);
    if (room === undefined) throw new Error(`append to unknown room ${event.roomId}`);
    if (event.seq !== room.lastSeq + 1) {
      throw new Error(`seq ${event.seq} of room ${event.roomId} does not follow the stored seq`);
    }
    if (send && this.#sends.has(sendKey(send.userId, send.clientMsgId))) {
      throw new Error(`clientMsgId ${send.clientMsgId} of ${send.userId} was already used`);
    }
    room.events.push(event);
    room.lastSeq = event.seq as number;
    applyEffect(room, event);
    const excess = room.events.length - this.options.historyMaxPerRoom;
    if (excess > 0) {
      for (const dropped of room.events.splice(0, excess)) {
        const seq = dropped.seq as number;
        room.edits.delete(seq);
        room.deleted.delete(seq);
        room.reactions.delete(seq);
      }
    }
    if (send) this.#remember(send);
  }

  async roomPage(roomId: string, query: PageQuery, viewer: string): Promise<RoomPage> {
    const room = this.#rooms.get(roomId);
    const events = room?.events ?? [];
    let page: readonly ChatMessage[];
    let more = false;
    let complete = true;
    if ('after' in query) {
      const after = events.filter(
        (e) => (e.seq as number) > query.after && (e.seq as number) <= query.upTo,
      );
      const rows = after.map((event) => ({ event, body: JSON.stringify(event) }));
      const cut = withinBudget(rows, query.budget);
      page = cut.rows.map((row) => row.event);
      more = cut.more;
      complete = retainedSince(query.after, query.upTo, events[0]?.seq);
    } else {
      const older = events.filter((e) => (e.seq as number) < query.before);
      page = older.slice(Math.max(0, older.length - query.limit));
    }
    return {
      events: page.map((event) => {
        if (room === undefined) return event;
        const seq = event.seq as number;
        const reactions = [...(room.reactions.get(seq) ?? new Map<string, Set<string>>())].map(
          ([emoji, users]) => ({ emoji, count: users.size, mine: users.has(viewer) }),
        );
        return withState(event, room.edits.get(seq), room.deleted.has(seq), reactions);
      }),
      complete,
      more,
      asOf: room?.lastSeq ?? 0,
    };
  }

  async messageState(roomId: string, seq: number): Promise<MessageState | undefined> {
    const room = this.#rooms.get(roomId);
    const event = room?.events.find((e) => e.seq === seq);
    if (room === undefined || event === undefined || event.type !== 'room_chat') return undefined;
    const reactions = new Map<string, Set<string>>();
    for (const [emoji, users] of room.reactions.get(seq) ?? [])
      reactions.set(emoji, new Set(users));
    return {
      sender: event.sender.id,
      sentAt: Date.parse(event.timestamp),
      deleted: room.deleted.has(seq),
      reactions,
    };
  }

  async readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    const states = new Map<string, ReadState>();
    for (const roomId of roomIds) {
      const room = this.#rooms.get(roomId);
      const lastRead = room?.reads.get(userId) ?? 0;
      const unread = (room?.events ?? []).filter(
        (e) =>
          e.type === 'room_chat' &&
          (e.seq as number) > lastRead &&
          e.sender.id !== userId &&
          !room!.deleted.has(e.seq as number),
      ).length;
      states.set(roomId, { lastRead, unread });
    }
    return states;
  }

  async readMark(roomId: string, userId: string): Promise<number> {
    return this.#rooms.get(roomId)?.reads.get(userId) ?? 0;
  }

  async saveReadMarks(marks: readonly ReadMark[]): Promise<void> {
    for (const mark of marks) {
      const reads = this.#rooms.get(mark.roomId)?.reads;
      if (reads !== undefined && (reads.get(mark.userId) ?? 0) < mark.seq) {
        reads.set(mark.userId, mark.seq);
      }
    }
  }

  async setBlock(userId: string, blockedId: string, on: boolean): Promise<void> {
    const blocked = this.#blocks.get(userId) ?? new Set<string>();
    if (on) blocked.add(blockedId);
    else blocked.delete(blockedId);
    if (blocked.size > 0) this.#blocks.set(userId, blocked);
    else this.#blocks.delete(userId);
  }

  async blocksOf(userId: string): Promise<string[]> {
    return [...(this.#blocks.get(userId) ?? [])];
  }

  async blocks(userId: string, senderId: string): Promise<boolean> {
    return this.#blocks.get(userId)?.has(senderId) ?? false;
  }

  async eventsAfter(
    roomId: string,
    since: number,
    upTo: number,
    budget?: PageBudget,
  ): Promise<EventsAfter> {
    const events = this.#rooms.get(roomId)?.events ?? [];
    const after = events
      .filter((e) => (e.seq as number) > since && (e.seq as number) <= upTo)
      .map((event) => ({ body: JSON.stringify(event) }));
    return eventsPage(after, budget, since, upTo, events[0]?.seq);
  }

  async eventsBefore(roomId: string, before: number, limit: number): Promise<ChatMessage[]> {
    const events = this.#rooms.get(roomId)?.events ?? [];
    const older = events.filter((e) => (e.seq as number) < before);
    return older.slice(Math.max(0, older.length - limit));
  }

  async roomLog(roomId: string, since: number): Promise<RoomLogTail> {
    const room = this.#rooms.get(roomId);
    return {
      lastSeq: room?.lastSeq ?? 0,
      events: (room?.events ?? []).filter((e) => (e.seq as number) > since),
    };
  }

  async findSend(userId: string, clientMsgId: string): Promise<SendRecord | undefined> {
    const key = sendKey(userId, clientMsgId);
    const send = this.#sends.get(key);
    if (send === undefined) return undefined;
    if (Date.now() - send.at > this.options.sendTtlMs) {
      this.#sends.delete(key);
      return undefined;
    }
    return {
      userId: send.userId,
      clientMsgId: send.clientMsgId,
      message: send.message,
      ...(send.delivered === undefined ? {} : { delivered: send.delivered }),
    };
  }

  async recordSend(send: SendRecord): Promise<void> {
    this.#remember(send);
  }

  async addMemo(memo: ChatMessage, send?: SendRecord): Promise<void> {
    const recipient = memo.recipient?.id as string;
    const list = this.#memos.get(recipient) ?? [];
    const bytes = JSON.stringify(memo).length;
    list.push({ memo, position: ++this.#memoPosition, bytes });
    this.#memos.set(recipient, list);
    if (send) this.#remember(send);
  }

  async pendingMemos(userId: string, after: number, limit: number): Promise<PendingMemo[]> {
    const list = this.#memos.get(userId) ?? [];
    return list.filter((pending) => pending.position > after).slice(0, limit);
  }

  async deleteMemos(ids: readonly string[]): Promise<void> {
    const gone = new Set(ids);
    for (const [userId, list] of this.#memos) {
      const kept = list.filter((pending) => !gone.has(pending.memo.id));
      if (kept.length === 0) this.#memos.delete(userId);
      else this.#memos.set(userId, kept);
    }
  }

  #remember(send: SendRecord): void {
    this.#sends.set(sendKey(send.userId, send.clientMsgId), { ...send, at: Date.now() });
    // Expire lazily in insertion order, which is age order.
    const now = Date.now();
    for (const [key, value] of this.#sends) {
      if (now - value.at <= this.options.sendTtlMs) break;
      this.#sends.delete(key);
    }
  }
}

/** What a v2 event does to its target's state. */
function applyEffect(room: RoomData, event: ChatMessage): void {
  const effect = targetEffect(event);
  if (effect === undefined) return;
  switch (effect.kind) {
    case 'edit':
      room.edits.set(effect.target, JSON.parse(effect.edit) as StoredEdit);
      return;
    case 'delete':
      room.deleted.add(effect.target);
      room.edits.delete(effect.target);
      room.reactions.delete(effect.target);
      return;
    case 'react': {
      const byEmoji = room.reactions.get(effect.target) ?? new Map<string, Set<string>>();
      const users = byEmoji.get(effect.emoji) ?? new Set<string>();
      if (effect.on) users.add(effect.userId);
      else users.delete(effect.userId);
      if (users.size > 0) byEmoji.set(effect.emoji, users);
      else byEmoji.delete(effect.emoji);
      if (byEmoji.size > 0) room.reactions.set(effect.target, byEmoji);
      else room.reactions.delete(effect.target);
      return;
    }
  }
}

function sendKey(userId: string, clientMsgId: string): string {
  return `${userId}\u0000${clientMsgId}`;
}

import type { ChatMessage } from '../contract/events.js';
import type {
  EventsAfter,
  MessageStore,
  PageBudget,
  PendingMemo,
  RoomLogTail,
  RoomRecord,
  SendRecord,
  StoredRoom,
} from './message-store.js';
import { eventsPage } from './message-store.js';

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
}

/** Keeps everything in process memory: for tests and for the benchmark's baseline. */
export class MemoryStore implements MessageStore {
  readonly kind = 'memory';
  readonly location = 'process memory (nothing survives a restart)';
  readonly #rooms = new Map<string, RoomData>();
  readonly #sends = new Map<string, SendRecord & { at: number }>();
  readonly #memos = new Map<string, PendingMemo[]>();
  #memoPosition = 0;

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
    this.#rooms.set(room.id, { record: { ...room }, lastSeq: 0, invited: new Set(), events: [] });
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
    const excess = room.events.length - this.options.historyMaxPerRoom;
    if (excess > 0) room.events.splice(0, excess);
    if (send) this.#remember(send);
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

function sendKey(userId: string, clientMsgId: string): string {
  return `${userId}\u0000${clientMsgId}`;
}

import type { ChatMessage } from '../contract/events.js';
import type { ReadMark, RoomFence, RoomRecord, SendRecord } from './message-store.js';

/** A room_join adds its user to the stored members, a room_leave removes it (cluster mode). */
export interface MemberChange {
  userId: string;
  name: string;
  joined: boolean;
}

/** v2: what a room_edit, room_delete or room_reaction does to its target, in its transaction. */
export type TargetEffect =
  | { kind: 'edit'; target: number; edit: string }
  | { kind: 'delete'; target: number }
  | { kind: 'react'; target: number; emoji: string; userId: string; on: boolean; at: number };

/** A send record as a row: the first answer kept as JSON. */
export interface SendRow {
  userId: string;
  clientMsgId: string;
  body: string;
  delivered: boolean | null;
  createdAt: number;
}

/**
 * One write of a SQL store, already serialised: what the group committer batches and a
 * writer applies. Plain data, so it can cross to a worker thread.
 */
export type WriteOp =
  | { kind: 'room'; room: RoomRecord }
  | { kind: 'deleteRoom'; roomId: string; epoch?: number | undefined }
  | { kind: 'invite'; roomId: string; userId: string; epoch?: number | undefined }
  | { kind: 'uninvite'; roomId: string; userId: string; epoch?: number | undefined }
  | {
      kind: 'event';
      roomId: string;
      seq: number;
      /** The message type and the sender's id, kept beside the body for unread counts. */
      type: string;
      sender: string;
      body: string;
      send: SendRow | null;
      /** v2: the change to the room_chat the event acts on. */
      effect?: TargetEffect;
      /** Cluster mode: the owner's fencing epoch, and the member the event adds or removes. */
      epoch?: number;
      member?: MemberChange;
    }
  | { kind: 'send'; send: SendRow }
  | {
      kind: 'memo';
      id: string;
      recipient: string;
      createdAt: number;
      body: string;
      send: SendRow | null;
    }
  | { kind: 'deleteMemos'; ids: string[] }
  /** v2: read marks, each kept only where it moves the stored one forward. */
  | { kind: 'reads'; marks: ReadMark[] }
  /** v2: a block (`on`) or its end. */
  | { kind: 'block'; userId: string; blockedId: string; on: boolean }
  /** Readiness: a one-row write that commits only when the store takes writes. */
  | { kind: 'probe'; at: number };

export function sendRow(send: SendRecord | undefined): SendRow | null {
  if (send === undefined) return null;
  return {
    userId: send.userId,
    clientMsgId: send.clientMsgId,
    body: JSON.stringify(send.message),
    delivered: send.delivered ?? null,
    createdAt: Date.now(),
  };
}

export function eventOp(event: ChatMessage, send?: SendRecord, fence?: RoomFence): WriteOp {
  if (event.roomId === undefined || event.seq === undefined) {
    throw new Error('a room event needs a roomId and a seq');
  }
  const op: WriteOp = {
    kind: 'event',
    roomId: event.roomId,
    seq: event.seq,
    type: event.type,
    sender: event.sender.id,
    body: JSON.stringify(event),
    send: sendRow(send),
  };
  const effect = targetEffect(event);
  if (effect !== undefined) op.effect = effect;
  if (fence?.epoch !== undefined) op.epoch = fence.epoch;
  if (fence?.member !== undefined) op.member = fence.member;
  return op;
}

/** The change a v2 event makes to its target; undefined for every other event. */
export function targetEffect(event: ChatMessage): TargetEffect | undefined {
  const target = event.target;
  if (target === undefined) return undefined;
  switch (event.type) {
    case 'room_edit':
      return {
        kind: 'edit',
        target,
        edit: JSON.stringify({ content: event.content, editedAt: event.timestamp }),
      };
    case 'room_delete':
      return { kind: 'delete', target };
    case 'room_reaction':
      return {
        kind: 'react',
        target,
        emoji: event.emoji as string,
        userId: (event.user ?? event.sender).id,
        on: event.on === true,
        at: Date.parse(event.timestamp),
      };
    default:
      return undefined;
  }
}

export function memoOp(memo: ChatMessage, send?: SendRecord): WriteOp {
  if (memo.recipient === undefined) throw new Error('a memo needs a recipient');
  return {
    kind: 'memo',
    id: memo.id,
    recipient: memo.recipient.id,
    createdAt: Date.now(),
    body: JSON.stringify(memo),
    send: sendRow(send),
  };
}

export function parseSend(row: {
  user_id: string;
  client_msg_id: string;
  body: string;
  delivered: number | boolean | null;
}): SendRecord {
  const record: SendRecord = {
    userId: row.user_id,
    clientMsgId: row.client_msg_id,
    message: JSON.parse(row.body) as ChatMessage,
  };
  if (row.delivered !== null) record.delivered = Boolean(row.delivered);
  return record;
}

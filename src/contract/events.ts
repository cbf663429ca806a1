/**
 * The wire contract (docs/PROTOCOL.md) as types: every event, payload, reply and message.
 * The gateway, the e2e tests and the clients we ship all compile against this file, so an
 * emit cannot drift from the contract.
 */

export const ERROR_CODES = [
  'INVALID_PAYLOAD',
  'TOO_LARGE',
  'RATE_LIMITED',
  'NOT_FOUND',
  'FORBIDDEN',
  'NOT_MEMBER',
  'ALREADY_EXISTS',
  'USER_OFFLINE',
  'BUSY',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Handshake refusals of the identity, as `connect_error` messages. */
export type AuthErrorCode = 'UNAUTHORIZED' | 'INVALID_AUTH';

/** Every `connect_error` message the service sends (the additions after the identity's). */
export const HANDSHAKE_REFUSALS = [
  'UNAUTHORIZED',
  'INVALID_AUTH',
  'RATE_LIMITED',
  'TOO_MANY_SOCKETS',
  'SHUTTING_DOWN',
] as const;
export type HandshakeRefusal = (typeof HANDSHAKE_REFUSALS)[number];

export interface UserRef {
  id: string;
  name: string;
}

export const MESSAGE_TYPES = [
  'room_chat',
  'room_join',
  'room_leave',
  'room_notice',
  'private_chat',
  'instant_message',
  'user_connect',
  'user_disconnect',
  'room_edit',
  'room_delete',
  'room_reaction',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Everything a user receives comes as one `message` event of this shape. */
export interface ChatMessage {
  id: string;
  type: MessageType;
  roomId?: string;
  seq?: number;
  sender: UserRef;
  recipient?: UserRef;
  user?: UserRef;
  content: string;
  timestamp: string;
  /** v2 room_edit, room_delete, room_reaction: the seq of the room_chat acted on. */
  target?: number;
  /** v2 room_reaction. */
  emoji?: string;
  on?: boolean;
  /** v2, in room:join and room:history replies only: the room_chat's state as of `asOf`. */
  edited?: true;
  editedAt?: string;
  deleted?: true;
  reactions?: Record<string, number>;
  myReactions?: string[];
}

/** The v2 room events that act on a room_chat (`target`). */
export type TargetEventType = 'room_edit' | 'room_delete' | 'room_reaction';

/** Every type a room numbers with its seq and keeps in its history. */
export const PERSISTED_ROOM_TYPES: ReadonlySet<MessageType> = new Set([
  'room_chat',
  'room_join',
  'room_leave',
  'room_edit',
  'room_delete',
  'room_reaction',
]);

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export type Reply<T extends object = Record<never, never>> =
  ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface RoomSummary {
  id: string;
  name: string;
  members: number;
  private: boolean;
  /** v2: the caller's read state in the room. */
  lastRead: number;
  unread: number;
}

// ---- client event payloads ------------------------------------------------------------

export interface RoomCreateInput {
  roomId: string;
  name?: string;
  private?: boolean;
}
export interface RoomJoinInput {
  roomId: string;
  since?: number;
}
export interface RoomRefInput {
  roomId: string;
}
export interface RoomInviteInput {
  roomId: string;
  userId: string;
}
/** Owner moderation (an addition): the user leaves and its invitation ends. */
export interface RoomKickInput {
  roomId: string;
  userId: string;
}
/** Owner moderation (an addition): `seconds` 0 lifts a mute. */
export interface RoomMuteInput {
  roomId: string;
  userId: string;
  seconds: number;
}
export interface RoomMessageInput {
  roomId: string;
  content: string;
  clientMsgId?: string;
}
export interface RoomHistoryInput {
  roomId: string;
  before?: number;
  limit?: number;
}
export interface RoomEditInput {
  roomId: string;
  seq: number;
  content: string;
  clientMsgId?: string;
}
export interface RoomMessageRefInput {
  roomId: string;
  seq: number;
}
export interface RoomReactInput {
  roomId: string;
  seq: number;
  emoji: string;
  on?: boolean;
}
export interface UserRefInput {
  userId: string;
}
export interface DirectMessageInput {
  to: string;
  content: string;
  clientMsgId?: string;
}

// ---- replies ----------------------------------------------------------------------------

export interface RoomJoinResult {
  room: { id: string; name: string; members: UserRef[] };
  messages: ChatMessage[];
  complete: boolean;
  /**
   * An addition: the reply was cut to its byte budget before the room's latest event; join
   * again with `since` set to the last message's seq to go on. Absent otherwise.
   */
  more?: true;
  /** v2: the room's latest seq when the reply was made; each message's state is as of it. */
  asOf: number;
  /** v2: the caller's read state in the room. */
  lastRead: number;
  unread: number;
}

export interface RoomHistoryResult {
  messages: ChatMessage[];
  /** v2: the room's latest seq when the reply was made; each message's state is as of it. */
  asOf: number;
}

/** Each client event: its payload and the data of its success reply. */
export interface ClientEventContract {
  'room:list': { input: Record<string, never> | undefined; result: { rooms: RoomSummary[] } };
  'room:create': {
    input: RoomCreateInput;
    result: { room: { id: string; name: string; private: boolean } };
  };
  'room:join': { input: RoomJoinInput; result: RoomJoinResult };
  'room:leave': { input: RoomRefInput; result: Record<never, never> };
  'room:invite': { input: RoomInviteInput; result: Record<never, never> };
  'room:kick': { input: RoomKickInput; result: Record<never, never> };
  'room:mute': { input: RoomMuteInput; result: { mutedUntil?: string } };
  'room:message': { input: RoomMessageInput; result: { message: ChatMessage } };
  'room:history': { input: RoomHistoryInput; result: RoomHistoryResult };
  'private:message': { input: DirectMessageInput; result: { message: ChatMessage } };
  'memo:send': { input: DirectMessageInput; result: { message: ChatMessage; delivered: boolean } };
  typing: { input: RoomRefInput; result: Record<never, never> };
  'user:list': { input: Record<string, never> | undefined; result: { users: UserRef[] } };
  'room:edit': { input: RoomEditInput; result: { message: ChatMessage } };
  'room:delete': { input: RoomMessageRefInput; result: { message: ChatMessage } };
  /** `{}` when nothing changed (the user already had, or did not have, that emoji there). */
  'room:react': { input: RoomReactInput; result: { message?: ChatMessage } };
  'room:read': { input: RoomMessageRefInput; result: { lastRead: number } };
  'user:block': { input: UserRefInput; result: Record<never, never> };
  'user:unblock': { input: UserRefInput; result: Record<never, never> };
  'user:blocks': { input: Record<string, never> | undefined; result: { users: string[] } };
}

export type ClientEventName = keyof ClientEventContract;

/** Every client event, in the table's order. */
export const CLIENT_EVENTS = [
  'room:list',
  'room:create',
  'room:join',
  'room:leave',
  'room:invite',
  'room:kick',
  'room:mute',
  'room:message',
  'room:history',
  'private:message',
  'memo:send',
  'typing',
  'user:list',
  'room:edit',
  'room:delete',
  'room:react',
  'room:read',
  'user:block',
  'user:unblock',
  'user:blocks',
] as const satisfies readonly ClientEventName[];
// Fails to compile when the contract gains an event this list lacks.
const EVERY_CLIENT_EVENT: Exclude<ClientEventName, (typeof CLIENT_EVENTS)[number]> extends never
  ? true
  : never = true;
void EVERY_CLIENT_EVENT;

const CLIENT_EVENT_SET: ReadonlySet<string> = new Set(CLIENT_EVENTS);

export function isClientEvent(event: string): event is ClientEventName {
  return CLIENT_EVENT_SET.has(event);
}
export type ClientEventInput<E extends ClientEventName> = ClientEventContract[E]['input'];
export type ClientEventResult<E extends ClientEventName> = ClientEventContract[E]['result'];

/** socket.io typing for clients: every event takes its payload and an ack. */
export type ClientToServerEvents = {
  [E in ClientEventName]: (
    payload: ClientEventInput<E>,
    ack: (reply: Reply<ClientEventResult<E>>) => void,
  ) => void;
};

export interface ChatErrorEvent {
  event: string;
  code: ErrorCode;
  message: string;
}

export interface TypingEvent {
  roomId: string;
  user: UserRef;
}

/** v2: a member moved its read mark forward (rooms of at most READ_RECEIPTS_MAX_MEMBERS). */
export interface ReadReceipt {
  roomId: string;
  user: UserRef;
  seq: number;
}

/** Sent to every client when the server begins a graceful shutdown (an addition). */
export interface ShutdownNotice {
  message: string;
}

export interface ServerToClientEvents {
  /**
   * Every message. A memo that was stored for the user comes with `received`, a socket.io
   * acknowledgement: calling it lets the server delete the memo (an addition; clients that
   * ignore it get the memo again on a later connect unless their socket stays connected for
   * MEMO_CONFIRM_MS).
   */
  message: (message: ChatMessage, received?: () => void) => void;
  typing: (event: TypingEvent) => void;
  read: (event: ReadReceipt) => void;
  'chat:error': (error: ChatErrorEvent) => void;
  'server:shutdown': (notice: ShutdownNotice) => void;
}

/** What the handshake leaves on `socket.data`: the only source of identity. */
export interface SocketData {
  user: UserRef;
}

export const SYSTEM_USER: UserRef = Object.freeze({ id: 'system', name: 'system' });

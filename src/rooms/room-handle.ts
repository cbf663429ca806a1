import type {
  ChatMessage,
  RoomHistoryResult,
  RoomJoinResult,
  UserRef,
} from '../contract/events.js';
import type { JoinOptions } from './room.actor.js';

/**
 * What can be asked of a room, wherever it is served: the RoomActor itself on the instance
 * that owns it, or (cluster mode) a RoutedRoom that sends each command to the owner.
 * Every method only queues; the answer settles when the room has done it.
 */
export interface RoomHandle {
  readonly id: string;
  join(user: UserRef, options?: JoinOptions): Promise<RoomJoinResult>;
  leave(user: UserRef): Promise<void>;
  /** Removed by the admin API: the user leaves and its invitation ends. */
  remove(user: UserRef): Promise<void>;
  kick(byUserId: string, userId: string): Promise<void>;
  mute(byUserId: string, userId: string, seconds: number): Promise<{ mutedUntil?: string }>;
  invite(byUserId: string, userId: string): Promise<void>;
  post(user: UserRef, content: string, clientMsgId?: string): Promise<ChatMessage>;
  history(userId: string, before: number | undefined, limit: number): Promise<RoomHistoryResult>;
  /** v2 room:edit. */
  edit(user: UserRef, seq: number, content: string, clientMsgId?: string): Promise<ChatMessage>;
  /** v2 room:delete; `byAdmin`: the admin API's, by `system`, without membership. */
  deleteMessage(by: UserRef, seq: number, byAdmin?: boolean): Promise<ChatMessage>;
  /** v2 room:react: `message` absent when nothing changed. */
  react(user: UserRef, seq: number, emoji: string, on: boolean): Promise<{ message?: ChatMessage }>;
  /** v2 room:read: the user's read mark after it. */
  markRead(user: UserRef, seq: number): Promise<number>;
  typing(user: UserRef): Promise<void>;
  notice(content: string): Promise<void>;
  close(): Promise<void>;
}

/** The commands a room takes from another instance, by name. */
export const ROOM_COMMANDS = [
  'join',
  'leave',
  'remove',
  'kick',
  'mute',
  'invite',
  'post',
  'history',
  'edit',
  'deleteMessage',
  'react',
  'markRead',
  'typing',
  'notice',
  'close',
] as const satisfies ReadonlyArray<Exclude<keyof RoomHandle, 'id'>>;
export type RoomCommand = (typeof ROOM_COMMANDS)[number];

import type { ChatMessage, RoomJoinResult, UserRef } from '../contract/events.js';
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
  history(userId: string, before: number | undefined, limit: number): Promise<ChatMessage[]>;
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
  'typing',
  'notice',
  'close',
] as const satisfies ReadonlyArray<Exclude<keyof RoomHandle, 'id'>>;
export type RoomCommand = (typeof ROOM_COMMANDS)[number];

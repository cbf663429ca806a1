import { Injectable } from '@nestjs/common';
import type { Server } from 'socket.io';
import type {
  ChatMessage,
  ClientToServerEvents,
  ServerToClientEvents,
  SocketData,
  TypingEvent,
} from '../chat/chat.events.js';

export type ChatServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

/** socket.io channel of one room's members. */
export const roomChannel = (roomId: string): string => `r:${roomId}`;
/** socket.io channel of one user's sockets (tabs, devices). */
export const userChannel = (userId: string): string => `u:${userId}`;

/**
 * The one way actors reach sockets. Every broadcast is a single socket.io emit to a channel,
 * encoded once for all its sockets, so a room's order is the same for every member.
 * The gateway attaches the server at start; actors never touch the gateway.
 */
@Injectable()
export class DeliveryService {
  #server: ChatServer | undefined;

  attach(server: ChatServer): void {
    this.#server = server;
  }

  get #io(): ChatServer {
    if (this.#server === undefined) throw new Error('socket server not attached yet');
    return this.#server;
  }

  toRoom(roomId: string, message: ChatMessage): void {
    this.#io.to(roomChannel(roomId)).emit('message', message);
  }

  toUsers(userIds: readonly string[], message: ChatMessage): void {
    this.#io.to(userIds.map(userChannel)).emit('message', message);
  }

  toEveryone(message: ChatMessage): void {
    this.#io.emit('message', message);
  }

  /** Typing is volatile: dropped rather than queued for a socket that is not ready. */
  typing(roomId: string, event: TypingEvent): void {
    this.#io
      .to(roomChannel(roomId))
      .except(userChannel(event.user.id))
      .volatile.emit('typing', event);
  }

  /** Puts every socket of the user into the room's channel. */
  joinChannel(userId: string, roomId: string): void {
    this.#io.in(userChannel(userId)).socketsJoin(roomChannel(roomId));
  }

  /** Puts one new socket of a user into the channels of the rooms the user is in. */
  joinSocket(socketId: string, roomIds: readonly string[]): void {
    this.#io.in(socketId).socketsJoin(roomIds.map(roomChannel));
  }

  leaveChannel(userId: string, roomId: string): void {
    this.#io.in(userChannel(userId)).socketsLeave(roomChannel(roomId));
  }

  closeChannel(roomId: string): void {
    this.#io.in(roomChannel(roomId)).socketsLeave(roomChannel(roomId));
  }

  disconnectUser(userId: string): void {
    this.#io.in(userChannel(userId)).disconnectSockets(true);
  }
}

import { Injectable } from '@nestjs/common';
import type { ChatMessage, ReadReceipt, ShutdownNotice, TypingEvent } from '../contract/events.js';
import type { ChatServer } from '../contract/sockets.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { whenFlushed, type EngineConnection } from './engine-connection.js';
import { SlowConsumers } from './slow-consumers.js';

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
  #shuttingDown = false;

  constructor(
    private readonly metrics: MetricsService,
    private readonly slowConsumers: SlowConsumers,
  ) {}

  attach(server: ChatServer): void {
    this.#server = server;
  }

  /** Set by beginShutdown: the handshake refuses everyone with SHUTTING_DOWN, before any check. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Open connections on this instance (0 before the server is attached). */
  get connectedSockets(): number {
    return this.#server?.sockets.sockets.size ?? 0;
  }

  get #io(): ChatServer {
    if (this.#server === undefined) throw new Error('socket server not attached yet');
    return this.#server;
  }

  toRoom(roomId: string, message: ChatMessage): void {
    const channel = roomChannel(roomId);
    this.#io.to(channel).emit('message', message);
    this.metrics.sent(message, this.#sockets(channel));
  }

  toUsers(userIds: readonly string[], message: ChatMessage): void {
    const channels = userIds.map(userChannel);
    this.#io.to(channels).emit('message', message);
    let sockets = 0;
    for (const channel of channels) sockets += this.#sockets(channel);
    this.metrics.sent(message, sockets);
  }

  /**
   * A stored memo to one socket, with a socket.io acknowledgement: `onAck` runs when the client
   * confirms it (a v1 client's listener ignores the callback and never does). False when the
   * socket is not connected here.
   */
  sendMemo(socketId: string, memo: ChatMessage, onAck: () => void): boolean {
    const socket = this.#io.sockets.sockets.get(socketId);
    if (socket === undefined) return false;
    socket.emit('message', memo, () => onAck());
    this.metrics.sent(memo, 1);
    return true;
  }

  /**
   * `length` JSON characters just emitted to the socket were asked for (a batch of its memos):
   * owed to the client, not a backlog it failed to read.
   */
  noteRequested(socketId: string, length: number): void {
    const socket = this.#io.sockets.sockets.get(socketId);
    if (socket !== undefined) this.slowConsumers.noteRequested(socket, length);
  }

  /**
   * Resolves true once what was emitted to the socket so far has left for the network; false
   * when the socket is gone, or goes before that.
   */
  whenFlushed(socketId: string): Promise<boolean> {
    const socket = this.#io.sockets.sockets.get(socketId);
    if (socket === undefined) return Promise.resolve(false);
    return whenFlushed(socket.conn as unknown as EngineConnection);
  }

  toEveryone(message: ChatMessage): void {
    this.#io.emit('message', message);
    this.metrics.sent(message, this.connectedSockets);
  }

  /** Typing is volatile: dropped rather than queued for a socket that is not ready. */
  typing(roomId: string, event: TypingEvent): void {
    const channel = roomChannel(roomId);
    const own = userChannel(event.user.id);
    this.#io.to(channel).except(own).volatile.emit('typing', event);
    this.metrics.typingSent(Math.max(0, this.#sockets(channel) - this.#sockets(own)));
  }

  /** A read receipt: to the room's other members, not the reader's own sockets. */
  readReceipt(receipt: ReadReceipt): void {
    const channel = roomChannel(receipt.roomId);
    const own = userChannel(receipt.user.id);
    this.#io.to(channel).except(own).emit('read', receipt);
  }

  /**
   * Graceful shutdown: refuses new handshakes (`connect_error` SHUTTING_DOWN) and tells every
   * connected client with `server:shutdown`. Returns how many sockets were told.
   */
  beginShutdown(notice: ShutdownNotice): number {
    const server = this.#server;
    if (server === undefined) return 0;
    this.#shuttingDown = true;
    // Only this instance's clients: with the Redis adapter, emit() would reach every instance.
    server.local.emit('server:shutdown', notice);
    return this.connectedSockets;
  }

  /**
   * Cluster mode: closes connections under their clients (a transport close, as at a
   * shutdown), so they come back and join their rooms again with `since`: after Redis came
   * back (broadcasts from other instances missed them meanwhile: only sockets in rooms), or
   * after this instance lost its lease (the others counted its users gone: every socket).
   * `beforeClose` is told each socket's user first. Answers how many were closed.
   */
  reconnectSockets(which: 'in-rooms' | 'all', beforeClose: (userId: string) => void): number {
    const server = this.#server;
    if (server === undefined) return 0;
    let closed = 0;
    for (const socket of server.sockets.sockets.values()) {
      // Its own id and its user channel only: in no room.
      if (which === 'in-rooms' && socket.rooms.size <= 2) continue;
      beforeClose(socket.data.user.id);
      socket.conn.close();
      closed++;
    }
    return closed;
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

  /** Sockets of this instance in a channel: a map lookup, for the delivery counts. */
  #sockets(channel: string): number {
    return this.#io.sockets.adapter.rooms.get(channel)?.size ?? 0;
  }
}

import type { ChatMessage, TypingEvent } from '../../contract/events.js';
import type { DeliveryService } from '../delivery.service.js';

/** A test double for unit specs: records what actors hand to socket.io, in order, instead of sending it. */
export class RecordingDelivery {
  readonly toRoom: Array<{ roomId: string; message: ChatMessage }> = [];
  readonly toUsers: Array<{ userIds: readonly string[]; message: ChatMessage }> = [];
  readonly toEveryone: ChatMessage[] = [];
  readonly typing: TypingEvent[] = [];
  readonly channels: string[] = [];
  readonly disconnected: string[] = [];
  /** Stored memos emitted to one socket each, with the acknowledgement the client may call. */
  readonly memos: Array<{ socketId: string; message: ChatMessage; ack: () => void }> = [];
  /** Bytes emitted because the client asked for them (memo batches), per socket. */
  readonly requested: Array<{ socketId: string; length: number }> = [];
  /** Sockets that are connected and whose emits leave at once; others are gone. */
  connectedSockets: Set<string> | undefined;

  asService(): DeliveryService {
    const rec = { ...this } as RecordingDelivery;
    return {
      toRoom: (roomId: string, message: ChatMessage) => void rec.toRoom.push({ roomId, message }),
      toUsers: (userIds: readonly string[], message: ChatMessage) =>
        void rec.toUsers.push({ userIds, message }),
      toEveryone: (message: ChatMessage) => void rec.toEveryone.push(message),
      typing: (_roomId: string, event: TypingEvent) => void rec.typing.push(event),
      joinChannel: (userId: string, roomId: string) =>
        void rec.channels.push(`join ${userId} ${roomId}`),
      leaveChannel: (userId: string, roomId: string) =>
        void rec.channels.push(`leave ${userId} ${roomId}`),
      joinSocket: () => undefined,
      closeChannel: (roomId: string) => void rec.channels.push(`close ${roomId}`),
      disconnectUser: (userId: string) => void rec.disconnected.push(userId),
      sendMemo: (socketId: string, message: ChatMessage, ack: () => void) => {
        if (this.connectedSockets !== undefined && !this.connectedSockets.has(socketId)) {
          return false;
        }
        rec.memos.push({ socketId, message, ack });
        return true;
      },
      noteRequested: (socketId: string, length: number) =>
        void rec.requested.push({ socketId, length }),
      whenFlushed: async (socketId: string) =>
        this.connectedSockets === undefined || this.connectedSockets.has(socketId),
    } as unknown as DeliveryService;
  }
}

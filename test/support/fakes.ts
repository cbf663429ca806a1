import type { ChatMessage, TypingEvent } from '../../src/chat/chat.events.js';
import type { DeliveryService } from '../../src/delivery/delivery.service.js';

/** Records what actors hand to socket.io, in order, instead of sending it. */
export class RecordingDelivery {
  readonly toRoom: Array<{ roomId: string; message: ChatMessage }> = [];
  readonly toUsers: Array<{ userIds: readonly string[]; message: ChatMessage }> = [];
  readonly toEveryone: ChatMessage[] = [];
  readonly typing: TypingEvent[] = [];
  readonly channels: string[] = [];
  readonly disconnected: string[] = [];

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
    } as unknown as DeliveryService;
  }
}

import { randomUUID } from 'node:crypto';
import { SYSTEM_USER, type ChatMessage, type MessageType, type UserRef } from './events.js';

/** Builds a message in the contract's shape, with optional fields omitted when absent. */
export function createMessage(
  type: MessageType,
  fields: Omit<ChatMessage, 'id' | 'type' | 'timestamp' | 'sender'> & { sender?: UserRef },
): ChatMessage {
  const message: ChatMessage = {
    id: randomUUID(),
    type,
    sender: fields.sender ?? SYSTEM_USER,
    content: fields.content,
    timestamp: new Date().toISOString(),
  };
  if (fields.roomId !== undefined) message.roomId = fields.roomId;
  if (fields.seq !== undefined) message.seq = fields.seq;
  if (fields.recipient !== undefined) message.recipient = fields.recipient;
  if (fields.user !== undefined) message.user = fields.user;
  if (fields.target !== undefined) message.target = fields.target;
  if (fields.emoji !== undefined) message.emoji = fields.emoji;
  if (fields.on !== undefined) message.on = fields.on;
  return message;
}

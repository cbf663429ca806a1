import type { ErrorCode } from '../chat/chat.events.js';

/**
 * A refusal the client can act on, carrying its contract code. Services throw these;
 * the gateway and the admin API map them in one place each.
 */
export class ChatError extends Error {
  override readonly name: string = 'ChatError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class InvalidPayloadError extends ChatError {
  override readonly name = 'InvalidPayloadError';
  constructor(message: string) {
    super('INVALID_PAYLOAD', message);
  }
}

export class TooLargeError extends ChatError {
  override readonly name = 'TooLargeError';
  constructor(message: string) {
    super('TOO_LARGE', message);
  }
}

export class RateLimitedError extends ChatError {
  override readonly name = 'RateLimitedError';
  constructor(retryAfterMs: number, what = 'messages') {
    super('RATE_LIMITED', `too many ${what}: retry in ${Math.ceil(retryAfterMs)} ms`);
  }
}

export class RoomNotFoundError extends ChatError {
  override readonly name = 'RoomNotFoundError';
  constructor(roomId: string) {
    super('NOT_FOUND', `room ${roomId} does not exist`);
  }
}

export class ForbiddenError extends ChatError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class NotMemberError extends ChatError {
  override readonly name = 'NotMemberError';
  constructor(roomId: string) {
    super('NOT_MEMBER', `you are not a member of room ${roomId}`);
  }
}

export class RoomExistsError extends ChatError {
  override readonly name = 'RoomExistsError';
  constructor(roomId: string) {
    super('ALREADY_EXISTS', `room ${roomId} already exists`);
  }
}

export class UserOfflineError extends ChatError {
  override readonly name = 'UserOfflineError';
  constructor(userId: string) {
    super('USER_OFFLINE', `user ${userId} is not online`);
  }
}

export class BusyError extends ChatError {
  override readonly name = 'BusyError';
  constructor(message = 'the server is busy: retry shortly') {
    super('BUSY', message);
  }
}

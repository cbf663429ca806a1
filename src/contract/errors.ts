import type { AuthErrorCode, ErrorCode } from './events.js';

/**
 * The contract's errors: every refusal a client or an admin caller can act on, with its code.
 * Services throw these; `toErrorBody` (error-body.ts) turns any error into the contract's
 * error body, the one mapping the socket gateway, the Redis admin transport and the HTTP
 * admin API all use.
 */

/** A refusal the client can act on, carrying its contract code. */
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

/** v2: no retained, undeleted room_chat at that seq. */
export class MessageNotFoundError extends ChatError {
  override readonly name = 'MessageNotFoundError';
  constructor(roomId: string, seq: number) {
    super('NOT_FOUND', `room ${roomId} has no message at seq ${seq} (unknown, deleted or dropped)`);
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
  override readonly name: string = 'BusyError';
  constructor(message = 'the server is busy: retry shortly') {
    super('BUSY', message);
  }
}

/**
 * Cluster mode: the room is served by another instance now. Nothing was done; the command
 * may go again to the room's new owner (the router does that by itself).
 */
export class RoomMovedError extends BusyError {
  override readonly name = 'RoomMovedError';
  constructor(roomId: string) {
    super(`room ${roomId} moved to another instance: retry`);
  }
}

/** An admin request body or path with problems, every one listed (HTTP 400). */
export class InvalidRequestError extends ChatError {
  override readonly name = 'InvalidRequestError';
  constructor(readonly problems: readonly string[]) {
    super('INVALID_PAYLOAD', problems.join('; '));
  }
}

/** PUT of a room that exists with other settings. */
export class RoomSettingsConflictError extends ChatError {
  override readonly name = 'RoomSettingsConflictError';
  constructor(roomId: string, differences: readonly string[]) {
    super('ALREADY_EXISTS', `room ${roomId} exists with other settings: ${differences.join('; ')}`);
  }
}

/** A default room cannot be closed. */
export class DefaultRoomError extends ChatError {
  override readonly name = 'DefaultRoomError';
  constructor(roomId: string) {
    super('FORBIDDEN', `room ${roomId} is a default room and is never closed`);
  }
}

/** A handshake refused: `code` goes to the client as the `connect_error` message. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    /** For the server's log only. */
    readonly reason: string,
  ) {
    super(code);
  }
}

import { InvalidRequestError } from '../contract/errors.js';
import {
  checkContent,
  describeContentVerdict,
  isId,
  isUserId,
  normalizeName,
  ROOM_NAME_MAX,
} from '../contract/text-rules.js';
import type { AdminRoomInput } from './admin-rooms.js';

/** The longest ttlSeconds: one week (a delayed job must fit a Node timer, about 24 days). */
export const TTL_SECONDS_MAX = 604_800;

/** Collects every problem of a request body, then throws them all at once. */
class BodyReader {
  readonly problems: string[] = [];
  readonly #body: Record<string, unknown>;

  constructor(body: unknown) {
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    if (!isObject) this.problems.push('body must be a JSON object');
    this.#body = isObject ? (body as Record<string, unknown>) : {};
  }

  field(key: string): unknown {
    const value = Object.hasOwn(this.#body, key) ? this.#body[key] : undefined;
    if (value === null) this.problems.push(`${key} must not be null`);
    return value ?? undefined;
  }

  /** A room or user id field; `what` names it in the problem. */
  id(key: string, what: 'room' | 'user'): string {
    const value = this.field(key);
    if (!isIdOf(what, value)) {
      this.problems.push(`${key} must be a valid ${what} id (1-64 of [A-Za-z0-9_.-])`);
    }
    return value as string;
  }

  /** A path segment naming a room or a user, checked with the body. */
  pathId(value: string, what: 'room' | 'user'): string {
    if (!isIdOf(what, value)) this.problems.push(pathIdProblem(what));
    return value;
  }

  /** Notice text under the message text rules. */
  content(key: string, maxLength: number): string {
    const value = this.field(key);
    const verdict = checkContent(value, maxLength);
    if (verdict !== 'ok') this.problems.push(describeContentVerdict(verdict, maxLength));
    return value as string;
  }

  done<T>(value: T): T {
    if (this.problems.length > 0) throw new InvalidRequestError(this.problems);
    return value;
  }
}

/** `name?`, `private?` and `ttlSeconds?` of a room, into `result`. */
function readRoomSettings(read: BodyReader, result: AdminRoomInput): void {
  const rawName = read.field('name');
  const name = rawName === undefined ? undefined : normalizeName(rawName, ROOM_NAME_MAX);
  if (rawName !== undefined && name === undefined) {
    read.problems.push(`name must be 1-${ROOM_NAME_MAX} characters of text`);
  }
  const isPrivate = read.field('private');
  if (isPrivate !== undefined && typeof isPrivate !== 'boolean') {
    read.problems.push('private must be a boolean');
  }
  const ttlSeconds = read.field('ttlSeconds');
  if (
    ttlSeconds !== undefined &&
    !(
      Number.isInteger(ttlSeconds) &&
      (ttlSeconds as number) >= 1 &&
      (ttlSeconds as number) <= TTL_SECONDS_MAX
    )
  ) {
    read.problems.push(`ttlSeconds must be an integer from 1 to ${TTL_SECONDS_MAX}`);
  }
  if (name !== undefined) result.name = name;
  if (isPrivate !== undefined) result.private = isPrivate as boolean;
  if (ttlSeconds !== undefined) result.ttlSeconds = ttlSeconds as number;
}

/** POST /api/rooms (and `rooms.create`, `rooms.put`): `{ id, name?, private?, ttlSeconds? }`. */
export function parseCreateRoom(body: unknown): AdminRoomInput {
  const read = new BodyReader(body);
  const result: AdminRoomInput = { id: read.id('id', 'room') };
  readRoomSettings(read, result);
  return read.done(result);
}

/**
 * PUT /api/rooms/:id: `{ name?, private?, ttlSeconds? }`, the id from the path; an `id` in the
 * body is allowed when it is the same.
 */
export function parsePutRoom(pathId: string, body: unknown): AdminRoomInput {
  const read = new BodyReader(body);
  const id = read.pathId(pathId, 'room');
  const bodyId = read.field('id');
  if (bodyId !== undefined && bodyId !== pathId) read.problems.push('id must match the path');
  const result: AdminRoomInput = { id };
  readRoomSettings(read, result);
  return read.done(result);
}

/** POST /api/rooms/:id/members: `{ userId }`. */
export function parseMember(pathId: string, body: unknown): { roomId: string; userId: string } {
  const read = new BodyReader(body);
  const roomId = read.pathId(pathId, 'room');
  return read.done({ roomId, userId: read.id('userId', 'user') });
}

/** POST /api/rooms/:id/notices: `{ content }`, under the message text rules. */
export function parseNotice(
  pathId: string,
  body: unknown,
  maxLength: number,
): { roomId: string; content: string } {
  const read = new BodyReader(body);
  const roomId = read.pathId(pathId, 'room');
  return read.done({ roomId, content: read.content('content', maxLength) });
}

/** DELETE /api/rooms/:id/messages/:seq: a room id and a positive integer seq from the path. */
export function parseMessagePath(id: string, seq: string): { roomId: string; seq: number } {
  const read = new BodyReader({});
  const roomId = read.pathId(id, 'room');
  const parsed = /^[1-9][0-9]{0,15}$/.test(seq) ? Number(seq) : NaN;
  if (!Number.isSafeInteger(parsed)) read.problems.push('seq must be a positive integer');
  return read.done({ roomId, seq: parsed });
}

/** Path parameters follow the same id rules; a malformed one is a bad request. */
export function parsePathId(value: string, what: 'room' | 'user'): string {
  if (!isIdOf(what, value)) throw new InvalidRequestError([pathIdProblem(what)]);
  return value;
}

function isIdOf(what: 'room' | 'user', value: unknown): value is string {
  return what === 'user' ? isUserId(value) : isId(value);
}

function pathIdProblem(what: 'room' | 'user'): string {
  return `${what} id must be 1-64 of [A-Za-z0-9_.-]`;
}

// ---- the Redis transport: one payload object a command -----------------------------------

/** `{ roomId }`: rooms.delete. */
export function parseRoomRef(payload: unknown): { roomId: string } {
  const read = new BodyReader(payload);
  return read.done({ roomId: read.id('roomId', 'room') });
}

/** `{ roomId, userId }`: rooms.members.add and rooms.members.remove. */
export function parseRoomMember(payload: unknown): { roomId: string; userId: string } {
  const read = new BodyReader(payload);
  return read.done({ roomId: read.id('roomId', 'room'), userId: read.id('userId', 'user') });
}

/** `{ roomId, content }`: rooms.notice. */
export function parseRoomNotice(
  payload: unknown,
  maxLength: number,
): { roomId: string; content: string } {
  const read = new BodyReader(payload);
  const roomId = read.id('roomId', 'room');
  return read.done({ roomId, content: read.content('content', maxLength) });
}

/** `{ userId }`: users.disconnect. */
export function parseUserRef(payload: unknown): { userId: string } {
  const read = new BodyReader(payload);
  return read.done({ userId: read.id('userId', 'user') });
}

/** `{ roomId, seq }`: rooms.messages.delete. */
export function parseRoomMessage(payload: unknown): { roomId: string; seq: number } {
  const read = new BodyReader(payload);
  const roomId = read.id('roomId', 'room');
  const seq = read.field('seq');
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) {
    read.problems.push('seq must be a positive integer');
  }
  return read.done({ roomId, seq: seq as number });
}

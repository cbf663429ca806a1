import { BadRequestException } from '@nestjs/common';
import {
  checkContent,
  describeContentVerdict,
  isId,
  isUserId,
  normalizeName,
  ROOM_NAME_MAX,
} from '../common/text-rules.js';

export interface CreateRoomBody {
  id: string;
  name?: string;
  private?: boolean;
}

/** Collects every problem of a request body, then answers 400 with the list. */
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

  done<T>(value: T): T {
    if (this.problems.length > 0) throw new BadRequestException(this.problems);
    return value;
  }
}

export function parseCreateRoom(body: unknown): CreateRoomBody {
  const read = new BodyReader(body);
  const id = read.field('id');
  if (!isId(id)) read.problems.push('id must be 1-64 of [A-Za-z0-9_.-]');
  const rawName = read.field('name');
  const name = rawName === undefined ? undefined : normalizeName(rawName, ROOM_NAME_MAX);
  if (rawName !== undefined && name === undefined) {
    read.problems.push(`name must be 1-${ROOM_NAME_MAX} characters of text`);
  }
  const isPrivate = read.field('private');
  if (isPrivate !== undefined && typeof isPrivate !== 'boolean') {
    read.problems.push('private must be a boolean');
  }
  const result: CreateRoomBody = { id: id as string };
  if (name !== undefined) result.name = name;
  if (isPrivate !== undefined) result.private = isPrivate as boolean;
  return read.done(result);
}

export function parseMember(body: unknown): { userId: string } {
  const read = new BodyReader(body);
  const userId = read.field('userId');
  if (!isUserId(userId)) read.problems.push('userId must be a valid user id');
  return read.done({ userId: userId as string });
}

export function parseNotice(body: unknown, maxLength: number): { content: string } {
  const read = new BodyReader(body);
  const content = read.field('content');
  const verdict = checkContent(content, maxLength);
  if (verdict !== 'ok') read.problems.push(describeContentVerdict(verdict, maxLength));
  return read.done({ content: content as string });
}

/** Path parameters follow the same id rules; a malformed one is a bad request. */
export function parsePathId(value: string, what: 'room' | 'user'): string {
  const ok = what === 'user' ? isUserId(value) : isId(value);
  if (!ok) throw new BadRequestException([`${what} id must be 1-64 of [A-Za-z0-9_.-]`]);
  return value;
}

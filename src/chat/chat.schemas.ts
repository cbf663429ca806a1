import {
  checkContent,
  describeContentVerdict,
  isClientMsgId,
  isEmoji,
  isId,
  isUserId,
  normalizeName,
  EMOJI_MAX,
  ROOM_NAME_MAX,
} from '../contract/text-rules.js';
import { InvalidPayloadError, TooLargeError } from '../contract/errors.js';
import type { ClientEventInput, ClientEventName } from '../contract/events.js';

export interface PayloadLimits {
  maxMessageLength: number;
}

export const HISTORY_LIMIT_DEFAULT = 50;
export const HISTORY_LIMIT_MAX = 200;
/** The longest mute an owner may give: a year. */
export const MUTE_SECONDS_MAX = 365 * 24 * 3600;

/**
 * Reads one payload field by field. Every INVALID_PAYLOAD problem is found before a
 * TOO_LARGE one is reported, because the contract ranks INVALID_PAYLOAD first.
 */
class PayloadReader {
  readonly #payload: Readonly<Record<string, unknown>>;
  #tooLarge: string | undefined;

  constructor(raw: unknown) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InvalidPayloadError('payload must be an object');
    }
    this.#payload = raw as Record<string, unknown>;
  }

  #value(key: string, required: boolean): unknown {
    const value = Object.hasOwn(this.#payload, key) ? this.#payload[key] : undefined;
    if (value === undefined && required) throw new InvalidPayloadError(`${key} is required`);
    // Absent optional fields are omitted, never null.
    if (value === null) throw new InvalidPayloadError(`${key} must not be null`);
    return value;
  }

  id(key: string): string {
    const value = this.#value(key, true);
    if (!isId(value)) throw new InvalidPayloadError(`${key} must be 1-64 of [A-Za-z0-9_.-]`);
    return value;
  }

  userId(key: string): string {
    const value = this.#value(key, true);
    if (!isUserId(value)) throw new InvalidPayloadError(`${key} must be a valid user id`);
    return value;
  }

  roomName(key: string): string | undefined {
    const value = this.#value(key, false);
    if (value === undefined) return undefined;
    const name = normalizeName(value, ROOM_NAME_MAX);
    if (name === undefined) {
      throw new InvalidPayloadError(`${key} must be 1-${ROOM_NAME_MAX} characters of text`);
    }
    return name;
  }

  boolean(key: string): boolean | undefined {
    const value = this.#value(key, false);
    if (value !== undefined && typeof value !== 'boolean') {
      throw new InvalidPayloadError(`${key} must be a boolean`);
    }
    return value;
  }

  /** A non-negative safe integer. */
  cursor(key: string): number | undefined {
    const value = this.#value(key, false);
    if (value === undefined) return undefined;
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new InvalidPayloadError(`${key} must be an integer >= 0`);
    }
    return value as number;
  }

  /** A required integer within [min, max]. */
  integer(key: string, min: number, max: number): number {
    const value = this.#value(key, true);
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw new InvalidPayloadError(`${key} must be an integer from ${min} to ${max}`);
    }
    return value as number;
  }

  /** A required safe integer >= min (a seq). */
  seq(key: string, min: number): number {
    const value = this.#value(key, true);
    if (!Number.isSafeInteger(value) || (value as number) < min) {
      throw new InvalidPayloadError(`${key} must be an integer >= ${min}`);
    }
    return value as number;
  }

  emoji(key: string): string {
    const value = this.#value(key, true);
    if (!isEmoji(value)) {
      throw new InvalidPayloadError(
        `${key} must be 1-${EMOJI_MAX} characters without whitespace or control characters`,
      );
    }
    return value;
  }

  limit(key: string): number | undefined {
    const value = this.#value(key, false);
    if (value === undefined) return undefined;
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new InvalidPayloadError(`${key} must be an integer >= 1`);
    }
    return Math.min(value as number, HISTORY_LIMIT_MAX);
  }

  clientMsgId(key: string): string | undefined {
    const value = this.#value(key, false);
    if (value !== undefined && !isClientMsgId(value)) {
      throw new InvalidPayloadError(`${key} must be 1-64 of [A-Za-z0-9_.:-]`);
    }
    return value as string | undefined;
  }

  content(key: string, maxLength: number): string {
    const value = this.#value(key, true);
    const verdict = checkContent(value, maxLength);
    if (verdict === 'invalid') {
      throw new InvalidPayloadError(describeContentVerdict(verdict, maxLength));
    }
    if (verdict === 'too-large') this.#tooLarge = describeContentVerdict(verdict, maxLength);
    return value as string;
  }

  /** Call last: raises TOO_LARGE only once nothing else was wrong. */
  done<T>(result: T): T {
    if (this.#tooLarge !== undefined) throw new TooLargeError(this.#tooLarge);
    return result;
  }
}

/** Events whose payload is `{}` or nothing at all. */
function empty(raw: unknown): undefined {
  if (raw !== undefined) new PayloadReader(raw);
  return undefined;
}

/** Drops undefined fields: absent optional fields are omitted, not undefined-valued. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

/** room:invite and room:kick take the same payload. */
function roomAndUser(raw: unknown): ClientEventInput<'room:kick'> {
  const p = new PayloadReader(raw);
  return p.done({ roomId: p.id('roomId'), userId: p.userId('userId') });
}

/** room:delete and room:read name a message (room:read may name 0: nothing read). */
function messageRef(min: number) {
  return (raw: unknown): ClientEventInput<'room:read'> => {
    const p = new PayloadReader(raw);
    return p.done({ roomId: p.id('roomId'), seq: p.seq('seq', min) });
  };
}

/** user:block and user:unblock. */
function userRef(raw: unknown): ClientEventInput<'user:block'> {
  const p = new PayloadReader(raw);
  return p.done({ userId: p.userId('userId') });
}

/** private:message and memo:send take the same payload. */
function directMessage(raw: unknown, limits: PayloadLimits): ClientEventInput<'memo:send'> {
  const p = new PayloadReader(raw);
  return p.done(
    compact({
      to: p.userId('to'),
      content: p.content('content', limits.maxMessageLength),
      clientMsgId: p.clientMsgId('clientMsgId'),
    }),
  );
}

type Parsers = {
  [E in ClientEventName]: (raw: unknown, limits: PayloadLimits) => ClientEventInput<E>;
};

/** One schema per client event: the payload as the service receives it, or a ChatError. */
export const PAYLOAD_PARSERS: Parsers = {
  'room:list': empty,
  'user:list': empty,
  'room:create': (raw) => {
    const p = new PayloadReader(raw);
    return p.done(
      compact({ roomId: p.id('roomId'), name: p.roomName('name'), private: p.boolean('private') }),
    );
  },
  'room:join': (raw) => {
    const p = new PayloadReader(raw);
    return p.done(compact({ roomId: p.id('roomId'), since: p.cursor('since') }));
  },
  'room:leave': (raw) => {
    const p = new PayloadReader(raw);
    return p.done({ roomId: p.id('roomId') });
  },
  typing: (raw) => {
    const p = new PayloadReader(raw);
    return p.done({ roomId: p.id('roomId') });
  },
  'room:invite': roomAndUser,
  'room:kick': roomAndUser,
  'room:mute': (raw) => {
    const p = new PayloadReader(raw);
    return p.done({
      roomId: p.id('roomId'),
      userId: p.userId('userId'),
      seconds: p.integer('seconds', 0, MUTE_SECONDS_MAX),
    });
  },
  'room:message': (raw, limits) => {
    const p = new PayloadReader(raw);
    return p.done(
      compact({
        roomId: p.id('roomId'),
        content: p.content('content', limits.maxMessageLength),
        clientMsgId: p.clientMsgId('clientMsgId'),
      }),
    );
  },
  'room:history': (raw) => {
    const p = new PayloadReader(raw);
    return p.done(
      compact({ roomId: p.id('roomId'), before: p.cursor('before'), limit: p.limit('limit') }),
    );
  },
  'private:message': directMessage,
  'memo:send': directMessage,
  'room:edit': (raw, limits) => {
    const p = new PayloadReader(raw);
    return p.done(
      compact({
        roomId: p.id('roomId'),
        seq: p.seq('seq', 1),
        content: p.content('content', limits.maxMessageLength),
        clientMsgId: p.clientMsgId('clientMsgId'),
      }),
    );
  },
  'room:delete': messageRef(1),
  'room:react': (raw) => {
    const p = new PayloadReader(raw);
    return p.done(
      compact({
        roomId: p.id('roomId'),
        seq: p.seq('seq', 1),
        emoji: p.emoji('emoji'),
        on: p.boolean('on'),
      }),
    );
  },
  'room:read': messageRef(0),
  'user:block': userRef,
  'user:unblock': userRef,
  'user:blocks': empty,
};

/**
 * The contract's text rules (docs/PROTOCOL.md, "Text rules"), shared by the socket
 * gateway, the handshake and the admin API.
 */

export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RESERVED_USER_IDS: ReadonlySet<string> = new Set(['system']);
export const USER_NAME_MAX = 32;
export const ROOM_NAME_MAX = 64;

// Unicode Cc: C0 controls, DEL and C1 controls. Matching them is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
// Cc minus tab, newline and carriage return, which message content may carry.
// eslint-disable-next-line no-control-regex
const CONTENT_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isUserId(value: unknown): value is string {
  return isId(value) && !RESERVED_USER_IDS.has(value);
}

export function isClientMsgId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_MSG_ID_PATTERN.test(value);
}

/** Code points, not UTF-16 units: 철수 is 2, an emoji is 1. */
export function codePointLength(text: string, stopAfter = Infinity): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count > stopAfter) return count;
  }
  return count;
}

/** A display name, trimmed; undefined when it breaks the rules. */
export function normalizeName(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim();
  if (name.length === 0 || CONTROL.test(name) || !name.isWellFormed()) return undefined;
  return codePointLength(name, max) <= max ? name : undefined;
}

export type ContentVerdict = 'ok' | 'invalid' | 'too-large';

/** Message content: stored exactly as sent; invalid beats too large. */
export function checkContent(value: unknown, maxLength: number): ContentVerdict {
  if (typeof value !== 'string') return 'invalid';
  if (value.trim().length === 0 || CONTENT_CONTROL.test(value) || !value.isWellFormed()) {
    return 'invalid';
  }
  if (value.length <= maxLength) return 'ok'; // code points never exceed UTF-16 units
  return codePointLength(value, maxLength) <= maxLength ? 'ok' : 'too-large';
}

export function describeContentVerdict(verdict: ContentVerdict, maxLength: number): string {
  return verdict === 'too-large'
    ? `content is longer than ${maxLength} characters`
    : 'content must be non-blank text without control characters or lone surrogates';
}

export const EMOJI_MAX = 16;
// Unicode White_Space (what String.prototype.trim removes, BOM included) anywhere in a token.
const WHITESPACE = /[\s\uFEFF]/;

/** A reaction: 1-16 code points, no whitespace, no control character, no lone surrogate. */
export function isEmoji(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    !WHITESPACE.test(value) &&
    !CONTROL.test(value) &&
    value.isWellFormed() &&
    codePointLength(value, EMOJI_MAX) <= EMOJI_MAX
  );
}

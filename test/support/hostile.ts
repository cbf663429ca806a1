/**
 * What the hostile-input specs share (malformed-payloads, raw-packets, admin-hostile-input):
 * the contract's error codes, the cast (an attacker, two bystanders, one room), fast-check
 * settings and the hostile values they generate, and the checks that whatever arrived was
 * answered within the contract. Fuzzing is not rate limiting: those specs start the app with
 * HIGH_RATE, so that valid sends reach the rooms and stores.
 */
import { expect } from '@jest/globals';
import fc from 'fast-check';
import type { Clients, TestClient } from './chat-app.js';

// ---- the contract ------------------------------------------------------------------------

/** The contract's error codes ("Replies"), written out here rather than taken from src/. */
export const CONTRACT_CODES = [
  'INVALID_PAYLOAD',
  'TOO_LARGE',
  'RATE_LIMITED',
  'NOT_FOUND',
  'FORBIDDEN',
  'NOT_MEMBER',
  'ALREADY_EXISTS',
  'USER_OFFLINE',
  'BUSY',
  'INTERNAL',
];

/** The user who sends the hostile input, and two who must not notice. */
export const ATTACKER = 'mallory';
export const BYSTANDERS = ['bystander-alpha', 'bystander-beta'] as const;
export const ROOM = 'general';

/** Connects both bystanders and puts them in ROOM. */
export async function joinBystanders(clients: Clients): Promise<TestClient[]> {
  const bystanders = [await clients.as(BYSTANDERS[0]), await clients.as(BYSTANDERS[1])];
  for (const b of bystanders) await b.ok('room:join', { roomId: ROOM });
  return bystanders;
}

// ---- fast-check settings -----------------------------------------------------------------

/** Reports a failing property with its seed and a cut counterexample (they can be megabytes). */
export function report<T>(details: fc.RunDetails<T>): void {
  if (!details.failed) return;
  let example: string;
  try {
    example = fc.stringify(details.counterexample).slice(0, 1500);
  } catch {
    example = '(too deep to print)';
  }
  const cause =
    details.errorInstance instanceof Error
      ? details.errorInstance.message
      : String(details.errorInstance);
  throw new Error(
    `property failed after ${details.numRuns} runs ` +
      `(seed ${details.seed}, path ${details.counterexamplePath})\n` +
      `counterexample (cut to 1500 chars): ${example}\n${cause}`,
  );
}

/**
 * fast-check settings: no shrinking past the first failure (each run is a real round trip).
 * FC_SEED=<seed from a failure report> replays that failure.
 */
export function runs<T>(numRuns: number): fc.Parameters<T> {
  const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
  return { numRuns, endOnFailure: true, reporter: report, ...(seed === undefined ? {} : { seed }) };
}

// ---- arbitraries -------------------------------------------------------------------------

/** `depth` levels, alternately an object `{ roomId }` (the outermost) and an array, round a leaf. */
function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let level = depth - 1; level >= 0; level--) {
    value = level % 2 === 0 ? { roomId: value } : [value];
  }
  return value;
}

/** The JSON text of nested(depth, leaf), built without recursion: any depth. */
export function deepJson(depth: number, leafJson: string): string {
  const opens: string[] = [];
  const closes: string[] = [];
  for (let level = 0; level < depth; level++) {
    opens.push(level % 2 === 0 ? '{"roomId":' : '[');
    closes.push(level % 2 === 0 ? '}' : ']');
  }
  return opens.join('') + leafJson + closes.reverse().join('');
}

/**
 * Nesting socket.io-client can send inside a generated payload: its own JSON.stringify overflows
 * the stack near 5,000 levels, so deeper payloads (5,000 and 100,000 levels) are written raw.
 */
export const DEEP = nested(1000, 'general');
export const DANGEROUS_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
  'toJSON',
];

export const weirdNumber = fc.constantFrom(
  Number.NaN,
  -0,
  0,
  1,
  -1,
  0.5,
  1e308,
  -1e308,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_VALUE,
  2 ** 31,
  2 ** 32 + 1,
  200,
  201,
  1e21,
);

export const weirdString = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'gen\u0000eral',
  '\ud800',
  'x\udfffy',
  '\ud83d',
  '\u202egeneral',
  '\u200fgeneral',
  '\ufeff',
  'general\n',
  ' general',
  'GENERAL',
  '__proto__',
  'constructor',
  'prototype',
  'system',
  'x'.repeat(65),
  '😀'.repeat(2001),
  'x'.repeat(200_000), // well under socket.io's 1 MB packet limit
  '😀'.repeat(100_000),
  ' \t\n\r'.repeat(10_000),
  '{"roomId":"general","content":"x"}',
  "'; DROP TABLE rooms; --",
  '%s%n%x',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '$where',
);

export const knownRoom = fc.constantFrom(ROOM, 'game', 'mine', 'ghost', '__proto__', 'constructor');
export const knownUser = fc.constantFrom(ATTACKER, ...BYSTANDERS, 'ghost', 'system', '__proto__');
const binary = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));

export const anything = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...DANGEROUS_KEYS)),
  stringUnit: 'binary',
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  weirdString,
  weirdNumber,
  fc.string({ unit: 'binary', maxLength: 80 }),
  knownRoom,
  knownUser,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.constant(DEEP),
  binary,
  anything,
);

/** Mostly a valid value, so that runs get past validation into the rooms and stores. */
function mostly<T>(valid: fc.Arbitrary<T>, weight = 4): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary: valid }, { weight: 1, arbitrary: hostileValue });
}

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });

export function fieldValue(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case 'roomId':
      return mostly(knownRoom);
    case 'userId':
    case 'to':
      return mostly(knownUser);
    case 'content':
    case 'name':
      return mostly(
        fc.oneof({ weight: 3, arbitrary: text }, weirdString, fc.string({ unit: 'binary' })),
      );
    case 'private':
      return mostly(fc.boolean());
    case 'clientMsgId':
      return mostly(fc.constantFrom('c1', 'c2', 'a:b.c-d_e'), 2);
    default: // since, before, limit, seconds
      return mostly(
        fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -5, max: 300 }) }, weirdNumber),
      );
  }
}

// ---- assertions --------------------------------------------------------------------------

/** The reply is one the contract allows; a payload the server did not expect is never INTERNAL. */
export function expectContractReply(reply: unknown, sender = ATTACKER): void {
  if (typeof reply === 'object' && reply !== null && (reply as { ok?: unknown }).ok === true) {
    const message = (reply as { message?: { sender?: unknown } }).message;
    // Whatever the payload said, a stored message is the authenticated user's.
    if (message !== undefined) expect(message.sender).toEqual({ id: sender, name: sender });
    return;
  }
  expect(reply).toEqual({
    ok: false,
    error: { code: expect.any(String), message: expect.any(String) },
  });
  const { code } = (reply as { error: { code: string } }).error;
  expect(CONTRACT_CODES).toContain(code);
  expect(code).not.toBe('INTERNAL');
}

/** Own property names of the shared prototypes: a polluted one grows. */
export function prototypeKeys(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype].flatMap((p) =>
    Object.getOwnPropertyNames(p),
  );
}

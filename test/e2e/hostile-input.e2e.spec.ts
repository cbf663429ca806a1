/**
 * Hostile input (issue #6, "Trust"): random and malformed payloads, generated with fast-check,
 * at every client event of the contract (and its additions `room:kick` and `room:mute`), at
 * unknown event names, at the raw socket.io protocol and at every admin HTTP route.
 *
 * docs/PROTOCOL.md, "Replies": "No input, however malformed, crashes the process or disturbs
 * other users." So whatever arrives, every reply is `{ ok: true, ... }` or
 * `{ ok: false, error: { code, message } }` with a contract code, an event sent without an ack
 * gets `chat:error { event, code, message }`, the process lives, and two bystanders in the same
 * room still talk to each other (a real round trip) afterwards. HTTP: never a 5xx, errors are
 * JSON `{ statusCode, error, message }`, a bad body is a 400.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Encoder, PacketType } from 'socket.io-parser';
import type { Socket } from 'socket.io-client';
import type { ChatErrorEvent } from '../../src/contract/events.js';
import {
  Clients,
  disconnected,
  startApp,
  type RunningApp,
  type TestClient,
} from '../support/chat-app.js';
import { connectOf, disconnectOf, roomMarker, withId } from '../support/e2e.js';
import { ServerProcess } from '../support/server-process.js';

// ---- the contract ------------------------------------------------------------------------

/** The contract's error codes ("Replies"), written out here rather than taken from src/. */
const CONTRACT_CODES = [
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

/** Every client event with the fields of its payload; the last two are the additions. */
const EVENTS: Record<string, readonly string[]> = {
  'room:list': [],
  'room:create': ['roomId', 'name', 'private'],
  'room:join': ['roomId', 'since'],
  'room:leave': ['roomId'],
  'room:invite': ['roomId', 'userId'],
  'room:message': ['roomId', 'content', 'clientMsgId'],
  'room:history': ['roomId', 'before', 'limit'],
  'private:message': ['to', 'content', 'clientMsgId'],
  'memo:send': ['to', 'content', 'clientMsgId'],
  typing: ['roomId'],
  'user:list': [],
  'room:kick': ['roomId', 'userId'],
  'room:mute': ['roomId', 'userId', 'seconds'],
};

/** Names socket.io itself reserves: the client refuses to emit them. */
const RESERVED = [
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
];

const ATTACKER = 'mallory';
const BYSTANDERS = ['bystander-alpha', 'bystander-beta'] as const;
const ROOM = 'general';
/** Fuzzing is not rate limiting: a high limit lets valid sends reach the rooms and stores. */
const ENV = { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SECOND: '100000' };
const RUNS = 80;

/** Reports a failing property with its seed and a cut counterexample (they can be megabytes). */
function report<T>(details: fc.RunDetails<T>): void {
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
function runs<T>(numRuns: number): fc.Parameters<T> {
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
function deepJson(depth: number, leafJson: string): string {
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
const DEEP = nested(1000, 'general');
const DANGEROUS_KEYS = [
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
const FORGED_SENDER_KEYS = ['sender', 'from', 'userId', 'user', 'name', 'id', 'ownerId'];

const weirdNumber = fc.constantFrom(
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

const weirdString = fc.constantFrom(
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

const knownRoom = fc.constantFrom(ROOM, 'game', 'mine', 'ghost', '__proto__', 'constructor');
const knownUser = fc.constantFrom(ATTACKER, ...BYSTANDERS, 'ghost', 'system', '__proto__');
const binary = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));

const anything = fc.anything({
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

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
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

function fieldValue(field: string): fc.Arbitrary<unknown> {
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

/** A payload shaped like the event's, with any field missing, wrong or hostile, and extras. */
function plausible(event: string): fc.Arbitrary<Record<string, unknown>> {
  const fields = EVENTS[event] ?? ['roomId', 'content', 'to', 'userId'];
  const model = Object.fromEntries(fields.map((f) => [f, fieldValue(f)]));
  const shape = fc.oneof(
    { weight: 3, arbitrary: fc.record(model) },
    { weight: 1, arbitrary: fc.record(model, { requiredKeys: [] }) },
  );
  const extras = fc.dictionary(
    fc.constantFrom(...DANGEROUS_KEYS, ...FORGED_SENDER_KEYS),
    fc.oneof(knownUser, hostileValue),
    { maxKeys: 3 },
  );
  // Spread keeps an own "__proto__" key an own key (Object.assign would set the prototype).
  return fc.tuple(shape, extras).map(([s, e]) => ({ ...e, ...s }));
}

function payload(event: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: plausible(event) },
    { weight: 2, arbitrary: anything },
    { weight: 2, arbitrary: hostileValue },
    { weight: 1, arbitrary: fc.array(plausible(event), { maxLength: 3 }) },
  );
}

interface Call {
  args: unknown[];
  ack: boolean;
}

/** One emit: one payload (usually), none, or extra arguments; with or without an ack. */
function call(event: string): fc.Arbitrary<Call> {
  const args: fc.Arbitrary<unknown[]> = fc.oneof(
    { weight: 8, arbitrary: payload(event).map((p) => [p]) },
    { weight: 1, arbitrary: fc.constant<unknown[]>([]) },
    {
      weight: 1,
      arbitrary: fc.tuple(payload(event), hostileValue, hostileValue).map((t) => [...t]),
    },
  );
  return fc.record({
    args,
    ack: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
  });
}

/** JSON text of any value (`undefined` becomes `null`). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * Bytes the client would send for `args`, encoded as socket.io-client encodes them, or
 * undefined when it cannot (then nothing ever leaves the client).
 */
function encodedSize(args: unknown[]): number | undefined {
  try {
    const parts = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: ['x', ...args] });
    return parts.reduce<number>(
      (sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength),
      0,
    );
  } catch {
    return undefined;
  }
}

/** True when the one payload reaches the server as something other than an object. */
function notAnObject(args: unknown[]): boolean {
  if (args.length !== 1) return false;
  const [value] = args;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return false; // binary
  const wire: unknown = JSON.parse(JSON.stringify([value]))[0];
  return typeof wire !== 'object' || wire === null || Array.isArray(wire);
}

// ---- assertions and helpers --------------------------------------------------------------

function raw(client: TestClient): Socket {
  return client.socket as unknown as Socket;
}

/** The reply is one the contract allows; a payload the server did not expect is never INTERNAL. */
function expectContractReply(reply: unknown, sender = ATTACKER): void {
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

const invalid = { ok: false, error: { code: 'INVALID_PAYLOAD' } };

function expectContractChatError(error: ChatErrorEvent, event: string): void {
  expect(error).toEqual({
    event: event.slice(0, 64),
    code: expect.any(String),
    message: expect.any(String),
  });
  expect(CONTRACT_CODES).toContain(error.code);
  expect(error.code).not.toBe('INTERNAL');
}

/** Own property names of the shared prototypes: a polluted one grows. */
function prototypeKeys(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype].flatMap((p) =>
    Object.getOwnPropertyNames(p),
  );
}

// ---- socket events -------------------------------------------------------------------------

describe('hostile payloads at every client event', () => {
  let app: RunningApp;
  let clients: Clients;
  let attacker: TestClient;
  let bystanders: TestClient[];
  const before = prototypeKeys();

  beforeEach(async () => {
    app = await startApp(ENV);
    clients = new Clients(() => app.url);
    bystanders = [await clients.as(BYSTANDERS[0]), await clients.as(BYSTANDERS[1])];
    attacker = await clients.as(ATTACKER);
    for (const c of [...bystanders, attacker]) await c.ok('room:join', { roomId: ROOM });
    await attacker.ok('room:create', { roomId: 'mine', private: true }); // owner paths too
  });

  afterEach(async () => {
    clients.closeAll();
    await app.close();
  });

  /** Fires one call and checks what comes back. */
  async function fire(event: string, { args, ack }: Call, known: boolean): Promise<void> {
    // A value JSON cannot encode (an object whose prototype is a Date instance, say) never
    // leaves the client; past socket.io's 1 MB packet limit the connection closes by design.
    const size = encodedSize(args);
    fc.pre(size !== undefined && size < 900_000);
    const chatErrors = attacker.events('chat:error');
    const errorsBefore = chatErrors.length;
    const mustFail = !known || notAnObject(args);
    if (ack) {
      const reply = await raw(attacker)
        .timeout(5000)
        .emitWithAck(event, ...args);
      expectContractReply(reply);
      if (mustFail) {
        expect(reply).toMatchObject(invalid);
      }
      expect(chatErrors.length).toBe(errorsBefore); // an acked event answers through its ack
      return;
    }
    raw(attacker).emit(event, ...args);
    // A socket's events are handled in order: once this is answered, so was the one before.
    expect(await raw(attacker).timeout(5000).emitWithAck('user:list')).toMatchObject({ ok: true });
    const fresh = chatErrors.slice(errorsBefore);
    expect(fresh.length).toBeLessThanOrEqual(1);
    for (const error of fresh) expectContractChatError(error, event);
    if (mustFail) expect(fresh).toEqual([expect.objectContaining({ code: 'INVALID_PAYLOAD' })]);
  }

  /** Everything the tests promise once the barrage is over. */
  async function expectUndisturbed(): Promise<void> {
    const [a, b] = bystanders;
    await roomMarker(a, ROOM, [a, b]);
    await roomMarker(b, ROOM, [a, b]);
    const { message } = await b.ok('private:message', { to: BYSTANDERS[0], content: 'still here' });
    await a.waitFor(withId(message.id));
    expect(attacker.socket.connected).toBe(true);
    expect((await attacker.ok('user:list')).users.map((u) => u.id).sort()).toEqual(
      [ATTACKER, ...BYSTANDERS].sort(),
    );
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    expect(prototypeKeys()).toEqual(before);
    expect(({} as Record<string, unknown>).roomId).toBeUndefined();
  }

  it.each(Object.keys(EVENTS))(
    'should answer anything sent as %s by the contract and disturb nobody',
    async (event) => {
      await fc.assert(
        fc.asyncProperty(call(event), (c) => fire(event, c, true)),
        runs(RUNS),
      );

      await expectUndisturbed();
    },
  );

  it('should answer an unknown event name, however odd, with INVALID_PAYLOAD', async () => {
    const name = fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.constantFrom(
          '',
          ' ',
          '__proto__',
          'constructor',
          'prototype',
          'hasOwnProperty',
          'toString',
          'error',
          'message',
          'chat:error',
          'ROOM:LIST',
          'room:list ',
          ' room:list',
          'room:list\u0000',
          'room:list\ud800',
          'room:*',
          'room:' + 'x'.repeat(100_000),
        ),
      )
      .filter((n) => !Object.hasOwn(EVENTS, n) && !RESERVED.includes(n));

    await fc.assert(
      fc.asyncProperty(name, call('unknown'), (event, c) => fire(event, c, false)),
      runs(RUNS * 2),
    );

    await expectUndisturbed();
  });

  it('should answer 5,000 levels of nesting, huge strings and binary at every event', async () => {
    const events = [...Object.keys(EVENTS), 'room:unknown'];
    // socket.io-client cannot send this deep (JSON.stringify overflows near 5,000 levels), a
    // hostile client can: the packets are written raw, without ack, so errors come as chat:error.
    const write = (raw(attacker).io.engine as unknown as { write(data: string): void }).write.bind(
      raw(attacker).io.engine,
    );
    for (const event of events) {
      write(`2[${JSON.stringify(event)},${deepJson(5000, '"general"')}]`);
      write(`2[${JSON.stringify(event)},[${deepJson(5000, '"general"')}]]`);
    }
    // The rest goes through the client, all at once, each with its ack. The code, where the
    // contract decides it: an array is never a payload; an over-long message is TOO_LARGE.
    const sends = ['room:message', 'private:message', 'memo:send'];
    const barrage: Array<[string, unknown, string | undefined]> = events.flatMap((event) => [
      [event, [DEEP], 'INVALID_PAYLOAD'],
      [
        event,
        { roomId: ROOM, content: 'x'.repeat(300_000), to: BYSTANDERS[0] },
        sends.includes(event) ? 'TOO_LARGE' : undefined,
      ],
      [event, Buffer.from('{"roomId":"general","content":"binary"}'), undefined],
      [
        event,
        { roomId: Buffer.from('general'), content: Buffer.alloc(1000), to: ATTACKER },
        undefined,
      ],
    ]);
    const replies = await Promise.all(
      barrage.map(([event, value]) => raw(attacker).timeout(10_000).emitWithAck(event, value)),
    );

    for (const [i, [, , code]] of barrage.entries()) {
      expectContractReply(replies[i]);
      if (code !== undefined) expect(replies[i]).toMatchObject({ ok: false, error: { code } });
    }
    // Raw packets came first on this connection: their chat:errors are all in by now.
    const chatErrors = attacker.events('chat:error');
    const listEvents = ['room:list', 'user:list'];
    expect(chatErrors).toHaveLength(events.length * 2 - listEvents.length);
    for (const error of chatErrors) {
      expectContractChatError(error, error.event);
      expect(error.code).toBe('INVALID_PAYLOAD');
    }
    for (const event of events) {
      const expected = listEvents.includes(event) ? 1 : 2;
      expect(chatErrors.filter((e) => e.event === event)).toHaveLength(expected);
    }
    await expectUndisturbed();
  });
});

// ---- the raw protocol, against the real process --------------------------------------------

/**
 * A hostile client need not use socket.io-client: these are packets written straight onto the
 * engine.io connection of a real service process (dist/), so that a crash shows as an exit.
 */
describe('raw socket.io packets at the real service process', () => {
  let server: ServerProcess | undefined;
  let url = '';
  const clients = new Clients(() => url);
  let bystanders: TestClient[] = [];

  async function boot(): Promise<void> {
    server = new ServerProcess({ STORE: 'memory', ...ENV });
    url = await server.start();
    bystanders = [await clients.as(BYSTANDERS[0]), await clients.as(BYSTANDERS[1])];
    for (const b of bystanders) await b.ok('room:join', { roomId: ROOM });
  }

  async function disconnectedOrGone(client: TestClient): Promise<void> {
    if (client.socket.connected) await disconnected(client);
    expect(client.socket.connected).toBe(false);
  }

  /** The process is running, answers /health, and the bystanders still talk. */
  async function expectAlive(what: string): Promise<void> {
    const health = await fetch(`${url}/health`).then(
      (res) => res.status,
      (error: unknown) => `unreachable (${String(error)})`,
    );
    if (health !== 200) {
      throw new Error(`the service died after ${what}; its log ends:\n${server?.log.slice(-1500)}`);
    }
    const [a, b] = bystanders;
    await roomMarker(a, ROOM, [a, b]);
  }

  beforeEach(async () => {
    // A test that killed the service must not fail the next one too.
    const alive =
      url !== '' &&
      (await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ));
    if (!alive) {
      clients.closeAll();
      await server?.stop('SIGKILL');
      await boot();
    }
  });

  afterAll(async () => {
    clients.closeAll();
    await server?.stop();
  });

  it.each([
    ['an unterminated JSON array', '2["room:message",{'],
    ['an object instead of an array', '2{"roomId":"general"}'],
    ['an empty array', '2[]'],
    ['null as the event name', '2[null]'],
    ['an object as the event name', '2[{"event":"room:list"}]'],
    ['true as the event name', '2[true]'],
    ['an unknown packet type', '9["room:list"]'],
    ['a huge ack id', '2999999999999999999999999["user:list"]'],
    ['a negative ack id', '2-1["user:list"]'],
    ['an unknown namespace', '2/admin,["user:list"]'],
    ['a connect to another namespace', '0/admin,{}'],
    ['a stray ack', '30["x"]'],
    [
      'a binary event whose attachments never come',
      '51-["room:message",{"_placeholder":true,"num":0}]',
    ],
    ['a placeholder out of range', '51-["room:message",{"_placeholder":true,"num":7}]'],
    [
      'a placeholder named __proto__',
      '51-["room:message",{"_placeholder":true,"num":"__proto__"}]',
    ],
    ['a placeholder in a plain event', '2["room:message",{"_placeholder":true,"num":0}]'],
    ['an own __proto__ key', '2["room:message",{"__proto__":{"roomId":"general","content":"x"}}]'],
    ['100,000 levels of arrays', `2["room:message",${'['.repeat(100_000)}${']'.repeat(100_000)}]`],
    [
      '50,000 levels of objects',
      `2["room:message",${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]`,
    ],
    ['a namespace disconnect', '1'],
  ])('should live through %s', async (label, packet) => {
    const attacker = await clients.as(ATTACKER);
    const closed = disconnected(attacker, 10_000);

    (raw(attacker).io.engine as unknown as { write(data: string): void }).write(packet);
    // Either the server answers a later event on this connection (so it handled the packet) or
    // it dropped the connection: both are fine, a dead process is not.
    const outcome = await Promise.race([
      raw(attacker)
        .timeout(5000)
        .emitWithAck('user:list')
        .then(
          (reply: unknown) => ({ reply }),
          (error: unknown) => ({ error: String(error) }),
        ),
      closed.then((reason) => ({ closed: reason })),
    ]);

    if ('reply' in outcome) expect(outcome.reply).toMatchObject({ ok: true });
    // No answer is fine only because the connection is gone, never a hang on a live one.
    else await disconnectedOrGone(attacker);
    await expectAlive(label);
    attacker.close();
  });

  it('should answer a burst past the per-connection queue with BUSY, unknown events included', async () => {
    // Long-polling delivers a whole POST body at once: 300 events reach the gateway in one
    // turn, far past the 256 that may wait on a connection.
    const base = `${url}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const { sid } = JSON.parse(open.slice(1)) as { sid: string };
    const session = `${base}&sid=${sid}`;
    const post = (body: string) => fetch(session, { method: 'POST', body }).then((r) => r.text());
    expect(await post(`40${JSON.stringify({ userId: 'burst' })}`)).toBe('ok');
    const received: string[] = [];
    const poll = async (until: () => boolean): Promise<void> => {
      while (!until()) received.push(...(await (await fetch(session)).text()).split('\x1e'));
    };
    await poll(() => received.some((p) => p.startsWith('40')));

    const burst = Array.from({ length: 300 }, (_, i) =>
      i % 2 ? '42["no:such:event"]' : '42["user:list",1]',
    );
    expect(await post(burst.join('\x1e'))).toBe('ok');
    const errors = () => received.filter((p) => p.startsWith('42["chat:error"'));
    await poll(() => errors().length === 300);

    const codes = new Set(
      errors().map((p) => (JSON.parse(p.slice(2)) as [string, { code: string }])[1].code),
    );
    expect(codes).toContain('BUSY');
    expect([...codes].every((code) => code === 'BUSY' || code === 'INVALID_PAYLOAD')).toBe(true);
    await expectAlive('a burst of 300 events in one request');
    // Close the session (an engine.io close packet), and see its user go offline.
    const [a] = bystanders;
    expect(await post('1')).toBe('ok');
    await a.waitFor(disconnectOf('burst'));
  });

  it('should leave no ghost behind a namespace disconnect followed at once by more events', async () => {
    const [a] = bystanders;
    const attacker = await clients.as(ATTACKER);
    await a.waitFor(connectOf(ATTACKER));
    const ask = (event: string, value: unknown) =>
      raw(attacker)
        .timeout(3000)
        .emitWithAck(event, value)
        .catch((error: unknown) => String(error));

    (raw(attacker).io.engine as unknown as { write(data: string): void }).write('1');
    const replies = await Promise.all([
      ask('room:join', { roomId: ROOM }),
      ask('room:create', { roomId: 'ghost-room' }),
      ask('room:message', { roomId: ROOM, content: 'from beyond' }),
    ]);

    await a.waitFor(disconnectOf(ATTACKER));
    await expectAlive('a namespace disconnect');
    for (const reply of replies) {
      if (typeof reply === 'object') expectContractReply(reply, ATTACKER);
    }
    // Whatever was answered, the user ended offline and in no room.
    const snapshot = (await (await fetch(`${url}/api/snapshot`)).json()) as {
      users: Array<{ id: string }>;
      rooms: Array<{ id: string; members: string[] }>;
    };
    expect(snapshot.users.map((u) => u.id).sort()).toEqual([...BYSTANDERS].sort());
    for (const room of snapshot.rooms) expect(room.members).not.toContain(ATTACKER);
    expect((await a.ok('room:list')).rooms.find((r) => r.id === ROOM)?.members).toBe(2);
  });

  it.each([
    ['a number', 42],
    ['zero', 0],
  ])('should answer %s as the event name with INVALID_PAYLOAD and live', async (label, name) => {
    // socket.io's parser accepts a number where the event name goes: `2[42, ...]`.
    const attacker = await clients.as(ATTACKER);
    const emit = raw(attacker).emit as unknown as (...args: unknown[]) => void;
    const emitWithAck = raw(attacker).timeout(3000).emitWithAck as unknown as (
      ...args: unknown[]
    ) => Promise<unknown>;

    emit.call(raw(attacker), name, { roomId: ROOM });
    const reply = await emitWithAck
      .call(raw(attacker).timeout(3000), name, { roomId: ROOM })
      .catch((error: unknown) => `no reply: ${String(error)}`);

    await expectAlive(`${label} (${name}) as an event name`);
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    const errors = attacker.events('chat:error');
    expect(errors).toEqual([
      { event: expect.anything(), code: 'INVALID_PAYLOAD', message: expect.any(String) },
    ]);
    expect([name, String(name)]).toContain(errors[0].event); // the name as sent
  });
});

// ---- admin HTTP routes ----------------------------------------------------------------------

interface HttpCall {
  method: string;
  path: string;
  query: string;
  body?: string;
  contentType?: string;
}

interface Route {
  method: string;
  /** Builds the path from encoded segments. */
  path: (a: string, b: string) => string;
  /** Whether the route reads a JSON body (so a non-object one is a 400). */
  body: boolean;
}

const ROUTES: Record<string, Route> = {
  'GET /api/snapshot': { method: 'GET', path: () => '/api/snapshot', body: false },
  'POST /api/rooms': { method: 'POST', path: () => '/api/rooms', body: true },
  'PUT /api/rooms/:id': { method: 'PUT', path: (a) => `/api/rooms/${a}`, body: true },
  'DELETE /api/rooms/:id': { method: 'DELETE', path: (a) => `/api/rooms/${a}`, body: false },
  'POST /api/rooms/:id/members': {
    method: 'POST',
    path: (a) => `/api/rooms/${a}/members`,
    body: true,
  },
  'DELETE /api/rooms/:id/members/:userId': {
    method: 'DELETE',
    path: (a, b) => `/api/rooms/${a}/members/${b}`,
    body: false,
  },
  'POST /api/rooms/:id/notices': {
    method: 'POST',
    path: (a) => `/api/rooms/${a}/notices`,
    body: true,
  },
  'POST /api/users/:id/disconnect': {
    method: 'POST',
    path: (a) => `/api/users/${a}/disconnect`,
    body: false,
  },
};

/** UTF-8 percent-encoding that also takes lone surrogates (as U+FFFD, as a browser would). */
const encode = (text: string) => encodeURIComponent(text.toWellFormed());

/** A path segment: an id the app knows, random text, or malformed escapes. Never a bystander. */
const pathSegment = fc.oneof(
  fc.constantFrom(ROOM, 'game', 'ghost', 'mine', ATTACKER, '__proto__', 'constructor', 'system'),
  fc.string({ unit: 'binary', maxLength: 70 }).map(encode),
  weirdString.filter((s) => s.length < 500).map(encode),
  fc.constantFrom(
    '%',
    '%ZZ',
    '%00',
    '%2F',
    '%2e%2e',
    '%C0%AF',
    '%ED%A0%80',
    '%FF',
    '%u0041',
    'a'.repeat(5000),
    '..%2F..%2Fetc',
    '%252F',
  ),
);

const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.string({ unit: 'binary-ascii', maxLength: 10 }).map(encode),
        fc.constantFrom(
          '__proto__[polluted]',
          'constructor[prototype][polluted]',
          'a[__proto__][polluted]',
          'a[b][c][d][e][f][g][h][i][j][k]',
          'a[]',
          '[]',
          'a'.repeat(2000),
          '%',
        ),
      ),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }).map(encode),
        fc.constantFrom('%', '%ZZ', ''),
      ),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const bodyFields = fc.record(
  {
    id: fc.oneof(fc.constantFrom('fuzz-room', '__proto__'), hostileValue),
    name: fieldValue('name'),
    private: fieldValue('private'),
    ttlSeconds: fc.oneof(fc.integer({ min: -5, max: 700_000 }), weirdNumber, hostileValue),
    userId: fc.oneof(fc.constantFrom(ATTACKER, 'ghost'), hostileValue),
    content: fieldValue('content'),
  },
  { requiredKeys: [] },
);

const httpBody: fc.Arbitrary<{ body?: string; contentType?: string }> = fc.oneof(
  {
    weight: 4,
    arbitrary: bodyFields.map((b) => ({ body: json(b), contentType: 'application/json' })),
  },
  {
    weight: 2,
    arbitrary: anything.map((b) => ({ body: json(b), contentType: 'application/json' })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '',
        '{',
        '{"id":',
        '[',
        'null',
        '"general"',
        '42',
        'true',
        '1e999',
        '[{"id":"general"}]',
        '{"__proto__":{"polluted":true},"id":"fuzz"}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"content":"a\\u0000b"}',
        '{"content":"\\ud800"}',
        '\ufeff{"id":"bom"}',
        '{"id":"dup","id":"dup2"}',
        deepJson(5000, '"x"'),
        `{"content":"${'x'.repeat(300_000)}"}`, // past the body parser's limit
      )
      .map((body) => ({ body, contentType: 'application/json' })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      body: fc.oneof(
        fc.constantFrom('id=form&name=x', '__proto__[polluted]=1', 'a[b][c][d][e]=1', '{"id":"x"}'),
        fc.string({ unit: 'binary', maxLength: 50 }).map((s) => s.toWellFormed()),
      ),
      contentType: fc.constantFrom(
        'application/x-www-form-urlencoded',
        'text/plain',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({}) },
);

/** False when an empty or dot segment makes the path another route's (or none). */
function namesTheRoute(path: string): boolean {
  const segments = path.split('/').slice(1);
  return segments.every((s) => s !== '') && new URL(path, 'http://host').pathname === path;
}

/** True when `text` is JSON whose top level is not an object (a bad body for any route). */
function jsonButNotAnObject(text: string | undefined): boolean {
  if (text === undefined || text.length > 100_000) return false;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value !== 'object' || value === null || Array.isArray(value);
  } catch {
    return false;
  }
}

interface HttpAnswer {
  status: number;
  type: string;
  text: string;
}

/** Never a 5xx; every error is JSON `{ statusCode, error, message }`. */
function expectNo5xxAndJsonErrors(res: HttpAnswer): void {
  expect(res.status).toBeLessThan(500);
  // 431: Node's HTTP parser refuses an over-long request line before any app code runs.
  if (res.status < 400 || res.status === 431) return;
  expect(res.type).toContain('application/json');
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toMatchObject({ statusCode: res.status, error: expect.any(String) });
  const message = body.message;
  const isText = typeof message === 'string';
  const isList = Array.isArray(message) && message.every((m) => typeof m === 'string');
  expect(isText || isList).toBe(true);
}

describe('hostile requests at every admin route', () => {
  let app: RunningApp;
  let clients: Clients;
  let bystanders: TestClient[];
  const before = prototypeKeys();

  beforeAll(async () => {
    app = await startApp(ENV);
    clients = new Clients(() => app.url);
    bystanders = [await clients.as(BYSTANDERS[0]), await clients.as(BYSTANDERS[1])];
    for (const b of bystanders) await b.ok('room:join', { roomId: ROOM });
    await clients.as(ATTACKER);
  });

  afterAll(async () => {
    clients.closeAll();
    await app.close();
  });

  async function send(req: HttpCall): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    const res = await fetch(`${app.url}${req.path}${req.query}`, {
      method: req.method,
      headers,
      body: req.body,
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text: await res.text(),
    };
  }

  async function expectUndisturbed(): Promise<void> {
    const [a, b] = bystanders;
    await roomMarker(a, ROOM, [a, b]);
    const snapshot = await send({ method: 'GET', path: '/api/snapshot', query: '' });
    expect(snapshot.status).toBe(200);
    const general = (
      JSON.parse(snapshot.text) as { rooms: Array<{ id: string; members: string[] }> }
    ).rooms.find((r) => r.id === ROOM);
    expect(general?.members).toEqual(expect.arrayContaining([...BYSTANDERS]));
    expect(prototypeKeys()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }

  it.each(Object.keys(ROUTES))(
    'should answer %s with no 5xx and JSON errors, whatever the path, query and body',
    async (key) => {
      const route = ROUTES[key];
      const request = fc
        .record({ a: pathSegment, b: pathSegment, query: queryString, body: httpBody })
        .map(({ a, b, query, body }): HttpCall => ({
          method: route.method,
          path: route.path(a, b),
          query,
          ...(route.method === 'GET' ? {} : body),
        }));

      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const res = await send(req);

          expect(res.status).toBeGreaterThanOrEqual(200);
          expectNo5xxAndJsonErrors(res);
          if (
            route.body &&
            namesTheRoute(req.path) &&
            res.status !== 431 &&
            req.contentType === 'application/json' &&
            jsonButNotAnObject(req.body)
          ) {
            expect(res.status).toBe(400); // checked before the room or user is looked up
          }
        }),
        runs(100),
      );

      await expectUndisturbed();
    },
  );

  it('should answer unknown paths and methods under /api with a JSON 4xx', async () => {
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path: fc
        .array(pathSegment, { minLength: 1, maxLength: 4 })
        .map((segments) => `/api/${segments.join('/')}`),
    });

    await fc.assert(
      fc.asyncProperty(request, async ({ method, path }) => {
        const res = await send({ method, path, query: '' });

        expectNo5xxAndJsonErrors(res);
      }),
      runs(100),
    );

    await expectUndisturbed();
  });

  it('should refuse a compressed body (no decompression bomb) with a JSON 415', async () => {
    const { gzipSync } = await import('node:zlib');
    // 10 MB of zeros in about 10 kB: never inflated.
    const bomb = gzipSync(Buffer.from(`{"content":"${'0'.repeat(10_000_000)}"}`));
    const res = await fetch(`${app.url}/api/rooms/${ROOM}/notices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ statusCode: 415, error: expect.any(String) });
    await expectUndisturbed();
  });

  it.each([
    ['a body past the size limit', 'application/json', `{"content":"${'x'.repeat(300_000)}"}`, 413],
    ['an unsupported charset', 'application/json; charset=latin1', '{"userId":"mallory"}', 415],
    // UTF-16 is a charset the parser knows: ASCII bytes read as UTF-16 are not JSON.
    ['ASCII bytes labelled UTF-16', 'application/json; charset=utf-16', '{"userId":"x"}', 400],
  ])(
    'should answer %s as JSON { statusCode, error, message }',
    async (_label, type, body, status) => {
      const res = await send({
        method: 'POST',
        path: `/api/rooms/${ROOM}/members`,
        query: '',
        body,
        contentType: type,
      });

      expect(res.status).toBe(status);
      expect(res.type).toContain('application/json');
      expect(JSON.parse(res.text)).toEqual({
        statusCode: res.status,
        error: expect.any(String),
        message: expect.any(String),
      });
    },
  );
});

/**
 * Malformed payloads (docs/PROTOCOL.md, "Text rules" and "Replies"): `null` for an optional
 * field, a payload that is not an object, and junk of every kind are INVALID_PAYLOAD (or
 * another contract error), and no input, however malformed, disturbs other users.
 *
 * First examples, then hostile input (issue #6, "Trust"): random and malformed payloads,
 * generated with fast-check, at every client event of the contract (and its additions
 * `room:kick` and `room:mute`) and at unknown event names. Whatever arrives, every reply is
 * `{ ok: true, ... }` or `{ ok: false, error: { code, message } }` with a contract code, an
 * event sent without an ack gets `chat:error { event, code, message }`, the process lives, and
 * two bystanders in the same room still talk to each other (a real round trip) afterwards.
 * Packets written by hand are in raw-packets.e2e.spec.ts, the admin routes in
 * admin-hostile-input.e2e.spec.ts.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Encoder, PacketType } from 'socket.io-parser';
import type { ChatErrorEvent } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import {
  expectError,
  HIGH_RATE,
  raw,
  rawRequest,
  roomMarker,
  useApp,
  withId,
} from '../support/e2e.js';
import {
  anything,
  ATTACKER,
  BYSTANDERS,
  CONTRACT_CODES,
  DANGEROUS_KEYS,
  DEEP,
  deepJson,
  expectContractReply,
  fieldValue,
  hostileValue,
  joinBystanders,
  knownUser,
  prototypeKeys,
  ROOM,
  runs,
} from '../support/hostile.js';

// ---- examples --------------------------------------------------------------------------

describe('payload validation', () => {
  const h = useApp();

  it.each([
    ['room:create name', 'room:create', { roomId: 'n1', name: null }],
    ['room:create private', 'room:create', { roomId: 'n1', private: null }],
    ['room:join since', 'room:join', { roomId: 'general', since: null }],
    [
      'room:message clientMsgId',
      'room:message',
      { roomId: 'general', content: 'x', clientMsgId: null },
    ],
    ['room:history before', 'room:history', { roomId: 'general', before: null }],
    ['room:history limit', 'room:history', { roomId: 'general', limit: null }],
    [
      'private:message clientMsgId',
      'private:message',
      { to: 'bob', content: 'x', clientMsgId: null },
    ],
    ['memo:send clientMsgId', 'memo:send', { to: 'bob', content: 'x', clientMsgId: null }],
  ])(
    'should refuse null for the optional field %s with INVALID_PAYLOAD',
    async (_label, event, payload) => {
      const alice = await h.clients.as('alice');
      await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });

      expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      expectError(await alice.request('room:join', { roomId: 'n1' }), 'NOT_FOUND');
    },
  );

  const events = [
    'room:create',
    'room:join',
    'room:leave',
    'room:invite',
    'room:message',
    'room:history',
    'private:message',
    'memo:send',
    'typing',
  ] as const;

  it.each(events)(
    'should refuse a payload that is not an object for %s with INVALID_PAYLOAD',
    async (event) => {
      const alice = await h.clients.as('alice');
      await h.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });

      for (const payload of [
        'general',
        42,
        true,
        null,
        [],
        [{ roomId: 'general', content: 'x', to: 'bob' }],
      ]) {
        expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      }
      expectError(await rawRequest(alice, event), 'INVALID_PAYLOAD');
    },
  );

  it.each(['room:list', 'user:list'] as const)(
    'should refuse a payload that is not an object for %s with INVALID_PAYLOAD',
    async (event) => {
      const alice = await h.clients.as('alice');

      for (const payload of ['all', 42, true, [], [{}]]) {
        expectError(await rawRequest(alice, event, payload), 'INVALID_PAYLOAD');
      }
    },
  );

  it('should not disturb other users when a socket sends malformed input', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const mallory = await h.clients.as('mallory');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    await mallory.ok('room:join', { roomId: 'general' });

    const junk: unknown[][] = [
      ['room:message', { roomId: { $gt: '' }, content: 'x' }],
      ['room:message', { roomId: 'general', content: { toString: 'x' } }],
      ['room:join', { roomId: ['general'] }],
      ['room:create', { roomId: 'r'.repeat(10_000) }],
      ['memo:send', { to: 'bob', content: 'x'.repeat(200_000) }],
      ['room:message', 'x'.repeat(100_000)],
      ['private:message', { to: { id: 'bob' }, content: 'x' }],
      // Replies to these may be either; they must not break anything.
      ['room:message', JSON.parse('{"roomId":"general","content":"x","__proto__":{"admin":true}}')],
      ['room:history', { roomId: 'general', limit: 1e308 }],
      ['room:history', { roomId: 'general', before: Number.MAX_SAFE_INTEGER + 2 }],
    ];
    raw(mallory).emit('typing', { roomId: 'general' }, 'extra', 3);
    raw(mallory).emit('room:message');
    const replies = await Promise.all(
      junk.map(([event, ...args]) => rawRequest(mallory, String(event), ...args)),
    );

    for (const reply of replies) expect(reply).toMatchObject({ ok: expect.any(Boolean) });
    for (const reply of replies.slice(0, 7)) expect(reply).toMatchObject({ ok: false });
    const { message } = await alice.ok('room:message', {
      roomId: 'general',
      content: 'still fine',
    });
    await bob.waitFor(withId(message.id));
    expect(mallory.socket.connected).toBe(true);
  });
});

// ---- generators ----------------------------------------------------------------------------

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

const RUNS = 80;

const FORGED_SENDER_KEYS = ['sender', 'from', 'userId', 'user', 'name', 'id', 'ownerId'];

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

// ---- generated, at every client event ----------------------------------------------------

describe('hostile payloads at every client event', () => {
  const h = useApp(HIGH_RATE);
  let attacker: TestClient;
  let bystanders: TestClient[];
  const before = prototypeKeys();

  beforeEach(async () => {
    bystanders = await joinBystanders(h.clients);
    attacker = await h.clients.as(ATTACKER);
    await attacker.ok('room:join', { roomId: ROOM });
    await attacker.ok('room:create', { roomId: 'mine', private: true }); // owner paths too
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
    expect((await fetch(`${h.app.url}/health`)).status).toBe(200);
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

/**
 * Hostile text (issue #6, "Trust"): docs/PROTOCOL.md, "Text rules" — message content is "stored
 * and sent back exactly as received"; a NUL, any other Cc character except tab, newline and
 * carriage return, or a lone surrogate is INVALID_PAYLOAD.
 *
 * Two halves, each on every store (memory, SQLite, and the real PostgreSQL when it runs):
 * - the MessageStore itself returns every allowed odd text byte-for-byte after a reopen, so
 *   nothing in the SQL or JSON layers rewrites it (fixed cases and generated ones);
 * - the service, through its socket API, keeps such text identical across a restart and refuses
 *   the forbidden characters with INVALID_PAYLOAD on every store: never INTERNAL, never a crash,
 *   nothing stored.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ChatMessage } from '../../src/contract/events.js';
import { createMessage } from '../../src/contract/messages.js';
import { Clients, startApp, type RunningApp, type TestClient } from '../support/chat-app.js';
import { type StoreKit, storeKits, useStore } from '../support/store-kits.js';

// ---- the texts -----------------------------------------------------------------------------

/** Allowed content the stores must give back unchanged (every entry is valid message content). */
const ODD_TEXTS: Array<[string, string]> = [
  ['tab, newline and carriage return', '\tcol1\tcol2\nline two\r\nline three\r'],
  ['leading and trailing whitespace', '  \t padded \n '],
  ['emoji: ZWJ family, flag, skin tone, keycap', '👨‍👩‍👧‍👦 🇰🇷 👋🏽 1️⃣ 🏳️‍🌈'],
  [
    'combining marks (zalgo)',
    'Z\u0351\u036b\u0343\u036a\u0302A\u0334\u0335L\u0320G\u0334O\u0335 e\u0301',
  ],
  ['decomposed and precomposed forms side by side', 'e\u0301 \u00e9 \u1100\u1161 \uac00'],
  [
    'RTL text with marks, overrides and isolates',
    'שלום \u200f\u202eevil.exe\u202c \u2067مرحبا\u2069 \u200e',
  ],
  ['2,000 code points of 4-byte characters', '𝄞😀𠀀\u{10FFFD}'.repeat(500)],
  ['the highest code point and U+10000', '\u{10FFFF}\u{10000}'],
  ['noncharacters and the replacement character', 'a\uFFFE\uFFFF\uFDD0\uFFFDb'],
  ['private use and specials', '\uE000\uF8FF\u{F0000}\uFFFC'],
  ['line and paragraph separators, BOM and zero-width inside', 'a\u2028b\u2029c\uFEFFd\u200be'],
  ['JSON-looking text', '{"content":"x","sender":{"id":"system"},"__proto__":{"polluted":true}}'],
  ['escapes that must stay text', '\\u0000 \\ud800 \\n \\" \\\\ \\x00 %00 &#0;'],
  ['quotes and backslashes', `"'\`\\"\\'`],
  ['__proto__', '__proto__'],
  ['constructor.prototype', 'constructor.prototype'],
  ['SQL injection', "'); DROP TABLE room_events; --"],
  ['PostgreSQL specials', "E'\\\\x00' $1 $$dollar$$ ::text pg_sleep(10)"],
  ['SQLite specials and LIKE wildcards', "? ?1 :name @p $v % _ [x] ' ''"],
  ['markup', '<script>alert(1)</script><img src=x onerror=alert(1)>'],
  ['one character', 'x'],
];

const PROTO_IDS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty'];

/** Forbidden content: each gets INVALID_PAYLOAD, whatever the store. */
const FORBIDDEN_TEXTS: Array<[string, string]> = [
  ['a NUL', 'a\u0000b'],
  ['only a NUL', '\u0000'],
  ['a trailing NUL', 'text\u0000'],
  ['a lone high surrogate', 'a\ud800b'],
  ['a lone low surrogate', 'a\udc00b'],
  ['a trailing high surrogate', 'smile \ud83d'],
  ['reversed surrogates', '\ude00\ud83d'],
  ['a bell', 'ring \u0007'],
  ['an escape sequence', '\u001b[2J\u001b[31mred'],
  ['a vertical tab', 'a\u000bb'],
  ['a form feed', 'a\u000cb'],
  ['a DEL', 'a\u007f'],
  ['a C1 control (NEL)', 'a\u0085b'],
  ['a C1 control (APC)', 'a\u009fb'],
];

/** Cc except tab, newline and carriage return: what content may not carry. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** The same string, and the same UTF-8 bytes (a lone surrogate would differ in the bytes). */
function expectIdentical(actual: string | undefined, expected: string): void {
  expect(actual).toBe(expected);
  expect(bytes(actual ?? '').equals(bytes(expected))).toBe(true);
}

// ---- stores -----------------------------------------------------------------------------------

const retention = { historyMaxPerRoom: 100_000, sendTtlMs: 60_000 };
const kits = await storeKits(retention, {
  schemaPrefix: 'chat_hostile',
  sqliteSynchronous: 'normal',
});

const alice = { id: 'alice', name: '앨리스' };

// ---- the store itself -----------------------------------------------------------------------

describe.each(kits)('odd text in the MessageStore: %s', (_name, makeKit) => {
  const h = useStore(makeKit);

  it('should give back every allowed odd text byte-for-byte: events, memos, sends, after a reopen', async () => {
    await h.sut.createRoom({
      id: 'r1',
      name: 'odd',
      private: false,
      createdAt: new Date().toISOString(),
    });
    const events: ChatMessage[] = [];
    const memos: ChatMessage[] = [];
    for (const [i, [, content]] of ODD_TEXTS.entries()) {
      const event = createMessage('room_chat', {
        roomId: 'r1',
        seq: i + 1,
        sender: alice,
        content,
      });
      await h.sut.appendRoomEvent(event, {
        userId: 'alice',
        clientMsgId: `c-${i}`,
        message: event,
      });
      events.push(event);
      const memo = createMessage('instant_message', {
        sender: alice,
        recipient: { id: 'bob', name: content.slice(0, 8) },
        content,
      });
      await h.sut.addMemo(memo);
      memos.push(memo);
    }

    await h.reopen();

    const { events: stored } = await h.sut.eventsAfter('r1', 0, ODD_TEXTS.length);
    expect(stored).toHaveLength(ODD_TEXTS.length);
    const pending = (await h.sut.pendingMemos('bob', 0, 1000)).map((p) => p.memo);
    for (const [i, [, content]] of ODD_TEXTS.entries()) {
      expect(stored[i]).toEqual(events[i]);
      expectIdentical(stored[i].content, content);
      expectIdentical(pending[i].content, content);
      expect(pending[i]).toEqual(memos[i]);
      expectIdentical((await h.sut.findSend('alice', `c-${i}`))?.message.content, content);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('should keep rooms, users and sends named __proto__, constructor and the like apart', async () => {
    for (const id of PROTO_IDS) {
      await h.sut.createRoom({
        id,
        name: id,
        private: true,
        owner: id,
        createdAt: new Date().toISOString(),
      });
      await h.sut.addInvite(id, id);
      const event = createMessage('room_chat', {
        roomId: id,
        seq: 1,
        sender: { id, name: id },
        content: id,
      });
      await h.sut.appendRoomEvent(event, { userId: id, clientMsgId: id, message: event });
      await h.sut.addMemo(
        createMessage('instant_message', {
          sender: alice,
          recipient: { id, name: id },
          content: `to ${id}`,
        }),
      );
    }

    await h.reopen();

    const rooms = await h.sut.loadRooms();
    for (const id of PROTO_IDS) {
      expect(rooms.find((r) => r.id === id)).toMatchObject({
        id,
        name: id,
        owner: id,
        invited: [id],
        lastSeq: 1,
      });
      expect((await h.sut.eventsBefore(id, 10, 10)).map((e) => e.content)).toEqual([id]);
      expect((await h.sut.pendingMemos(id, 0, 10)).map((p) => p.memo.content)).toEqual([
        `to ${id}`,
      ]);
      expect((await h.sut.findSend(id, id))?.message.content).toBe(id);
    }
    expect(await h.sut.pendingMemos('toString', 0, 10)).toEqual([]);
    expect(await h.sut.findSend('__proto__', 'constructor')).toBeUndefined();
  });

  it('should give back generated allowed text byte-for-byte', async () => {
    await h.sut.createRoom({
      id: 'gen',
      name: 'gen',
      private: false,
      createdAt: new Date().toISOString(),
    });
    let seq = 0;
    // Any well-formed text without the forbidden controls: what the service lets through.
    const allowed = fc
      .string({
        unit: fc.oneof(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
          fc.constantFrom('\t', '\n', '\r', '\u200f', '\u0301', '\uFEFF'),
        ),
        minLength: 1,
        maxLength: 200,
      })
      .filter((s) => s.isWellFormed() && !FORBIDDEN_CONTROL.test(s));

    await fc.assert(
      fc.asyncProperty(fc.array(allowed, { minLength: 1, maxLength: 5 }), async (contents) => {
        const first = seq + 1;
        const sent = contents.map((content) =>
          createMessage('room_chat', { roomId: 'gen', seq: ++seq, sender: alice, content }),
        );
        await Promise.all(sent.map((e) => h.sut.appendRoomEvent(e)));

        const { events } = await h.sut.eventsAfter('gen', first - 1, seq);

        expect(events.map((e) => e.content)).toEqual(contents);
        for (const [i, e] of events.entries()) expectIdentical(e.content, contents[i]);
      }),
      { numRuns: 40 },
    );
    await h.reopen();
    expect((await h.sut.eventsAfter('gen', 0, seq)).events).toHaveLength(seq);
  });
});

// ---- through the service --------------------------------------------------------------------

describe.each(kits)('odd text through the socket API: %s', (_name, makeKit) => {
  let kit: StoreKit;
  let app: RunningApp | undefined;
  let clients: Clients;

  async function start(): Promise<void> {
    app = await startApp({
      ...kit.env,
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
    });
    const running = app;
    clients = new Clients(() => running.url);
  }

  /** A restart on the same data (durable stores); the memory store keeps its one life. */
  async function restart(): Promise<void> {
    if (!kit.durable) return;
    clients.closeAll();
    await app?.close();
    await start();
  }

  beforeEach(async () => {
    kit = makeKit();
    await start();
  });

  afterEach(async () => {
    clients.closeAll();
    await app?.close();
    app = undefined;
    await kit.cleanup();
  });

  it('should send back and keep every allowed odd text identical, in a room named __proto__, across a restart', async () => {
    const sender = await clients.as('alice', 'Alice');
    await sender.ok('room:create', { roomId: '__proto__', name: '__proto__' });
    const sent: ChatMessage[] = [];
    for (const [i, [, content]] of ODD_TEXTS.entries()) {
      const { message } = await sender.ok('room:message', {
        roomId: '__proto__',
        content,
        clientMsgId: `odd-${i}`,
      });
      expectIdentical(message.content, content);
      sent.push(message);
    }
    const memos = [];
    for (const [, content] of ODD_TEXTS) {
      memos.push((await sender.ok('memo:send', { to: 'constructor', content })).message);
    }

    await restart();

    // Memos stored for the offline user `constructor`, delivered on connect, identical.
    const reader = await clients.as('__proto__', '__proto__');
    const recipient = await clients.as('constructor');
    const got = await recipient.waitForCount((m) => m.type === 'instant_message', memos.length);
    expect(got).toEqual(memos);
    for (const [i, [, content]] of ODD_TEXTS.entries()) expectIdentical(got[i].content, content);
    // Room history, identical, in order.
    await reader.ok('room:join', { roomId: '__proto__' });
    const { messages } = await reader.ok('room:history', { roomId: '__proto__', limit: 200 });
    const chats = messages.filter((m) => m.type === 'room_chat');
    expect(chats).toEqual(sent);
    for (const [i, [, content]] of ODD_TEXTS.entries()) expectIdentical(chats[i].content, content);
    expect((await reader.ok('room:list')).rooms).toEqual(
      expect.arrayContaining([
        // alice left it when the restart took her offline; on the memory store she is still in.
        expect.objectContaining({
          id: '__proto__',
          name: '__proto__',
          members: kit.durable ? 1 : 2,
          private: false,
        }),
      ]),
    );
    // A retry replays the stored first message, identical.
    const again = await clients.as('alice', 'Alice');
    const replay = await again.ok('room:message', {
      roomId: '__proto__',
      content: 'changed',
      clientMsgId: 'odd-6',
    });
    expect(replay.message).toEqual(sent[6]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('should refuse NUL, lone surrogates and other controls with INVALID_PAYLOAD and store nothing', async () => {
    const alice = await clients.as('alice');
    const bob = await clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2

    for (const [label, content] of FORBIDDEN_TEXTS) {
      const replies = [
        await alice.request('room:message', { roomId: 'general', content, clientMsgId: 'bad-1' }),
        await alice.request('private:message', { to: 'bob', content, clientMsgId: 'bad-1' }),
        await alice.request('memo:send', { to: 'offline-user', content, clientMsgId: 'bad-1' }),
        await alice.request('room:create', { roomId: 'named', name: content }),
      ];
      for (const reply of replies) {
        expect({ label, reply }).toMatchObject({
          label,
          reply: { ok: false, error: { code: 'INVALID_PAYLOAD' } },
        });
      }
    }
    const admin = await fetch(`${app?.url}/api/rooms/general/notices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'a\u0000b' }),
    });
    expect(admin.status).toBe(400);

    // Nothing was stored: the seq goes on from the joins, and clientMsgId bad-1 is still free.
    const { message } = await alice.ok('room:message', {
      roomId: 'general',
      content: 'fine',
      clientMsgId: 'bad-1',
    });
    expect(message).toMatchObject({ seq: 3, content: 'fine' });
    await bob.waitFor((m) => m.id === message.id);
    expect(bob.received.filter((m) => m.type === 'private_chat')).toEqual([]);

    await restart();

    const again = await clients.as('alice');
    await again.ok('room:join', { roomId: 'general' });
    const { messages } = await again.ok('room:history', { roomId: 'general' });
    expect(messages.filter((m) => m.type === 'room_chat').map((m) => m.content)).toEqual(['fine']);
    const offline: TestClient = await clients.as('offline-user');
    // Pending memos are delivered on connect; a memo sent after that arrives after them.
    const { message: marker } = await again.ok('memo:send', {
      to: 'offline-user',
      content: 'marker',
    });
    await offline.waitFor((m) => m.id === marker.id);
    expect(offline.received.filter((m) => m.type === 'instant_message')).toEqual([marker]);
    expect((await again.ok('room:list')).rooms.map((r) => r.id)).not.toContain('named');
  });
});

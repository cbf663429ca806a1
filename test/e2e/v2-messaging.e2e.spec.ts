/**
 * Contract v2 (docs/PROTOCOL.md, "Contract v2 additions"): room:edit, room:delete and
 * room:react with their persisted room_edit, room_delete and room_reaction events; the
 * current state (edited, deleted, reactions, myReactions) and `asOf` in room:history and
 * room:join replies; room:read with `lastRead`, `unread` and `read` receipts; user:block,
 * user:unblock and user:blocks; the send rate, kicked and muted members, the admin API's
 * DELETE /api/rooms/:id/messages/:seq, v1 shapes left unchanged, and v2 state across a
 * restart on SQLite.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage, ReadReceipt } from '../../src/contract/events.js';
import { Clients, startApp, type RunningApp, type TestClient } from '../support/chat-app.js';
import {
  data,
  disconnectOf,
  expectAbsent,
  expectError,
  HIGH_RATE,
  ISO_UTC,
  joinOf,
  leaveOf,
  memoMarker,
  nextMarker,
  raw,
  rawRequest,
  roomMarker,
  seqs,
  SYSTEM,
  useApp,
  UUID,
  withId,
  type Harness,
} from '../support/e2e.js';

/** The state fields a room_chat carries in history and join replies only. */
const STATE_FIELDS = ['edited', 'editedAt', 'deleted', 'reactions', 'myReactions'];
/** The fields of the v2 events that act on a message. */
const TARGET_FIELDS = ['target', 'emoji', 'on'];

// ---- helpers ---------------------------------------------------------------------------

/**
 * alice (Alice) creates and owns `roomId` (seq 1: her room_join), bob (Bob) joins (seq 2).
 */
async function den(h: Harness, roomId = 'den'): Promise<{ alice: TestClient; bob: TestClient }> {
  const alice = await h.clients.as('alice', 'Alice');
  const bob = await h.clients.as('bob', 'Bob');
  await alice.ok('room:create', { roomId });
  await bob.ok('room:join', { roomId });
  return { alice, bob };
}

/** A room message; its stored form. */
async function post(client: TestClient, content: string, roomId = 'den'): Promise<ChatMessage> {
  return (await client.ok('room:message', { roomId, content })).message;
}

/** The event at `seq` in a reply's messages. */
function atSeq(messages: readonly ChatMessage[], seq: number | undefined): ChatMessage {
  const found = messages.find((m) => m.seq === seq);
  if (found === undefined) throw new Error(`no event at seq ${String(seq)}`);
  return found;
}

/** The code of an error reply, or 'ok'. */
function codeOf(reply: { ok: boolean; error?: { code: string } }): string {
  return reply.ok ? 'ok' : (reply.error?.code ?? '?');
}

/** The stored event of a successful room:react that changed something. */
async function react(
  client: TestClient,
  seq: number | undefined,
  emoji: string,
  extra: { on?: boolean; roomId?: string } = {},
): Promise<ChatMessage> {
  const { message } = await client.ok('room:react', {
    roomId: extra.roomId ?? 'den',
    seq: seq as number,
    emoji,
    ...(extra.on === undefined ? {} : { on: extra.on }),
  });
  if (message === undefined) throw new Error('room:react changed nothing');
  return message;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the clock has passed `at` (ms since the epoch). The edit window is a matter of
 * time, and the test and the server share one clock.
 */
async function clockPast(at: number): Promise<void> {
  while (Date.now() <= at) await delay(Math.max(1, Math.min(50, at - Date.now() + 1)));
}

const receiptOf = (userId: string, seq: number) => (r: ReadReceipt) =>
  r.user.id === userId && r.seq === seq;

interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are asserted field by field
  body: any;
}

/** One admin HTTP call (no ADMIN_API_KEY is configured: the API is open in tests). */
async function call(app: RunningApp, method: string, path: string): Promise<ApiResponse> {
  const res = await fetch(`${app.url}${path}`, { method });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text !== '';
  return { status: res.status, body: json ? JSON.parse(text) : undefined };
}

function expectErrorBody(res: ApiResponse, statusCode: number): void {
  expect(res.status).toBe(statusCode);
  expect(res.body).toMatchObject({ statusCode, error: expect.any(String) });
  const message: unknown = res.body?.message;
  expect(
    typeof message === 'string' ||
      (Array.isArray(message) && message.every((m) => typeof m === 'string')),
  ).toBe(true);
}

// ---- room:edit -------------------------------------------------------------------------

describe('room:edit', () => {
  const h = useApp();

  it('should reply with the stored room_edit and deliver it to every member, sender included', async () => {
    const { alice, bob } = await den(h);
    const original = await post(alice, 'hello'); // seq 3

    const reply = await alice.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'hello, world',
    });

    const { message } = data(reply);
    expect(reply).toEqual({ ok: true, message });
    expect(message).toMatchObject({
      type: 'room_edit',
      roomId: 'den',
      seq: 4,
      target: original.seq,
      sender: { id: 'alice', name: 'Alice' },
      content: 'hello, world',
    });
    expect(message.id).toMatch(UUID);
    expect(message.id).not.toBe(original.id);
    expect(message.timestamp).toMatch(ISO_UTC);
    expectAbsent(message, 'emoji', 'on', 'user', 'recipient', ...STATE_FIELDS);
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
  });

  it('should show the message edited, with editedAt and the new content, in room:history and room:join', async () => {
    const { alice, bob } = await den(h);
    const original = await post(alice, 'draft'); // seq 3
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'final',
    }); // seq 4
    const carol = await h.clients.as('carol', 'Carol');

    const history = await bob.ok('room:history', { roomId: 'den' });
    const join = await carol.ok('room:join', { roomId: 'den' }); // seq 5

    const shown = { ...original, content: 'final', edited: true, editedAt: edit.timestamp };
    expect(atSeq(history.messages, 3)).toEqual(shown);
    expect(atSeq(history.messages, 4)).toEqual(edit);
    expect(seqs(history.messages)).toEqual([1, 2, 3, 4]);
    expect(atSeq(join.messages, 3)).toEqual(shown);
    expect(atSeq(join.messages, 4)).toEqual(edit);
    expect(seqs(join.messages)).toEqual([1, 2, 3, 4, 5]);
  });

  it('should let the sender edit again inside the window, each edit targeting the message, the highest seq winning', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'one'); // seq 3

    const edits: ChatMessage[] = [];
    for (const content of ['two', 'three', 'four']) {
      edits.push((await alice.ok('room:edit', { roomId: 'den', seq: 3, content })).message);
    }

    expect(seqs(edits)).toEqual([4, 5, 6]);
    expect(edits.map((e) => e.target)).toEqual([3, 3, 3]);
    const live = await bob.waitForCount((m) => m.type === 'room_edit', 3);
    expect(live).toEqual(edits);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3)).toMatchObject({
      content: 'four',
      edited: true,
      editedAt: edits[2]?.timestamp,
    });
    // An edit is not a message: it cannot be edited itself.
    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: 4, content: 'x' }),
      'NOT_FOUND',
    );
  });

  it('should return the first stored room_edit on a clientMsgId retry and deliver nothing twice', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'typo'); // seq 3
    const first = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'fixed',
      clientMsgId: 'edit-1',
    }); // seq 4

    const same = await alice.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'fixed again',
      clientMsgId: 'edit-1',
    });
    const elsewhere = await alice.request('room:edit', {
      roomId: 'nowhere',
      seq: 99,
      content: 'whatever',
      clientMsgId: 'edit-1',
    });

    expect(same).toEqual({ ok: true, message: first.message });
    expect(elsewhere).toEqual({ ok: true, message: first.message });
    const marker = await roomMarker(alice, 'den', [alice, bob]);
    expect(marker.seq).toBe(5);
    for (const c of [alice, bob]) {
      expect(c.received.filter(withId(first.message.id))).toHaveLength(1);
      expect(c.received.filter((m) => m.type === 'room_edit')).toHaveLength(1);
    }
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3).content).toBe('fixed');
  });

  it('should share the clientMsgId scope with room:message', async () => {
    const { alice, bob } = await den(h);
    const sent = await alice.ok('room:message', {
      roomId: 'den',
      content: 'sent',
      clientMsgId: 'shared-1',
    }); // seq 3
    const edited = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'edited',
      clientMsgId: 'shared-2',
    }); // seq 4

    const editAsSent = await alice.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'again',
      clientMsgId: 'shared-1',
    });
    const sendAsEdit = await alice.request('room:message', {
      roomId: 'den',
      content: 'new',
      clientMsgId: 'shared-2',
    });

    expect(editAsSent).toEqual({ ok: true, message: sent.message });
    expect(sendAsEdit).toEqual({ ok: true, message: edited.message });
    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(5);
  });

  it('should use up no clientMsgId on a refused edit, and replay an edit after its message was deleted', async () => {
    const { alice, bob } = await den(h);
    await post(alice, "alice's"); // seq 3
    const refused = await bob.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'not mine',
      clientMsgId: 'k-1',
    });
    const { message: fresh } = await bob.ok('room:message', {
      roomId: 'den',
      content: 'fresh',
      clientMsgId: 'k-1',
    }); // seq 4
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'edited',
      clientMsgId: 'k-2',
    }); // seq 5
    await alice.ok('room:delete', { roomId: 'den', seq: 3 }); // seq 6

    const retry = await alice.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'edited',
      clientMsgId: 'k-2',
    });

    expectError(refused, 'FORBIDDEN');
    expect(fresh).toMatchObject({ type: 'room_chat', seq: 4, content: 'fresh' });
    expect(retry).toEqual({ ok: true, message: edit });
    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(7);
    expect(bob.received.filter(withId(edit.id))).toHaveLength(1);
  });
});

describe('room:edit errors', () => {
  const h = useApp({ MAX_MESSAGE_LENGTH: '20' });

  it.each([
    ['no payload', undefined],
    ['a string payload', 'den'],
    ['an array payload', [{ roomId: 'den', seq: 3, content: 'x' }]],
    ['a missing roomId', { seq: 3, content: 'x' }],
    ['a malformed roomId', { roomId: 'not a room', seq: 3, content: 'x' }],
    ['a missing seq', { roomId: 'den', content: 'x' }],
    ['seq 0', { roomId: 'den', seq: 0, content: 'x' }],
    ['a negative seq', { roomId: 'den', seq: -3, content: 'x' }],
    ['a fractional seq', { roomId: 'den', seq: 3.5, content: 'x' }],
    ['a string seq', { roomId: 'den', seq: '3', content: 'x' }],
    ['a null seq', { roomId: 'den', seq: null, content: 'x' }],
    ['a missing content', { roomId: 'den', seq: 3 }],
    ['blank content', { roomId: 'den', seq: 3, content: ' \n\t ' }],
    ['empty content', { roomId: 'den', seq: 3, content: '' }],
    ['a number content', { roomId: 'den', seq: 3, content: 5 }],
    ['content with NUL', { roomId: 'den', seq: 3, content: 'a\u0000b' }],
    ['content with a lone surrogate', { roomId: 'den', seq: 3, content: 'a\ud800' }],
    ['a null content', { roomId: 'den', seq: 3, content: null }],
    ['a null clientMsgId', { roomId: 'den', seq: 3, content: 'x', clientMsgId: null }],
    ['a malformed clientMsgId', { roomId: 'den', seq: 3, content: 'x', clientMsgId: 'no way!' }],
    ['an empty clientMsgId', { roomId: 'den', seq: 3, content: 'x', clientMsgId: '' }],
    ['a long invalid content', { roomId: 'den', seq: 3, content: 'a'.repeat(50) + '\u0007' }],
    ['seq 0 with too long content', { roomId: 'den', seq: 0, content: 'a'.repeat(50) }],
  ])('should answer INVALID_PAYLOAD to %s and change nothing', async (_label, payload) => {
    const { alice, bob } = await den(h);
    await post(alice, 'keep'); // seq 3

    expectError(await alice.request('room:edit', payload), 'INVALID_PAYLOAD');

    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(4);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3).content).toBe('keep');
    expectAbsent(atSeq(messages, 3), ...STATE_FIELDS);
  });

  it('should answer TOO_LARGE to content over MAX_MESSAGE_LENGTH code points, before NOT_FOUND, FORBIDDEN and NOT_MEMBER', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'short'); // seq 3
    const carol = await h.clients.as('carol');
    const long = 'a'.repeat(21);

    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: 3, content: long }),
      'TOO_LARGE',
    );
    expectError(
      await alice.request('room:edit', { roomId: 'nowhere', seq: 3, content: long }),
      'TOO_LARGE',
    );
    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: 99, content: long }),
      'TOO_LARGE',
    );
    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: 3, content: long }),
      'TOO_LARGE',
    );
    expectError(
      await carol.request('room:edit', { roomId: 'den', seq: 3, content: long }),
      'TOO_LARGE',
    );
    // Twenty code points fit, however many UTF-16 units they take.
    const emoji = '😀'.repeat(20);
    const { message } = await alice.ok('room:edit', { roomId: 'den', seq: 3, content: emoji });
    expect(message.content).toBe(emoji);
  });

  it('should answer NOT_FOUND for an unknown room, and for a seq that is not a retained undeleted room_chat', async () => {
    const { alice, bob } = await den(h);
    const kept = await post(alice, 'kept'); // seq 3
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'kept!',
    }); // seq 4
    const reaction = await react(bob, kept.seq, '👍'); // seq 5
    const gone = await post(alice, 'gone'); // seq 6
    const { message: deletion } = await alice.ok('room:delete', { roomId: 'den', seq: 6 }); // 7
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // seq 8
    await carol.ok('room:leave', { roomId: 'den' }); // seq 9

    const edit1 = (roomId: string, seq: number | undefined) =>
      alice.request('room:edit', { roomId, seq: seq as number, content: 'new' });
    expectError(await edit1('nowhere', 3), 'NOT_FOUND');
    expectError(await edit1('den', 99), 'NOT_FOUND'); // unknown
    expectError(await edit1('den', 10), 'NOT_FOUND'); // the next seq, not yet there
    expectError(await edit1('den', 1), 'NOT_FOUND'); // alice's room_join
    expectError(await edit1('den', 9), 'NOT_FOUND'); // carol's room_leave
    expectError(await edit1('den', edit.seq), 'NOT_FOUND'); // a room_edit
    expectError(await edit1('den', reaction.seq), 'NOT_FOUND'); // a room_reaction
    expectError(await edit1('den', deletion.seq), 'NOT_FOUND'); // a room_delete
    expectError(await edit1('den', gone.seq), 'NOT_FOUND'); // a deleted message
    // NOT_FOUND comes before FORBIDDEN (not the sender) and NOT_MEMBER.
    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: 99, content: 'x' }),
      'NOT_FOUND',
    );
    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: gone.seq, content: 'x' }),
      'NOT_FOUND',
    );
    expectError(
      await carol.request('room:edit', { roomId: 'den', seq: 99, content: 'x' }),
      'NOT_FOUND',
    );

    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(10);
  });

  it('should answer FORBIDDEN to anyone but the sender, the room owner included, and store nothing', async () => {
    const { alice, bob } = await den(h);
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // seq 3
    const mine = await post(bob, "bob's"); // seq 4

    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: mine.seq, content: 'owner' }),
      'FORBIDDEN',
    );
    expectError(
      await carol.request('room:edit', { roomId: 'den', seq: mine.seq, content: 'carol' }),
      'FORBIDDEN',
    );

    const marker = await roomMarker(bob, 'den', [alice, bob, carol]);
    expect(marker.seq).toBe(5);
    expect(bob.received.filter((m) => m.type === 'room_edit')).toEqual([]);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 4)).toEqual(mine);
  });

  it('should answer NOT_MEMBER to a sender who left, and FORBIDDEN to a non-member editing someone else', async () => {
    const { alice, bob } = await den(h);
    const bobs = await post(bob, 'from bob'); // seq 3
    const alices = await post(alice, 'from alice'); // seq 4
    await bob.ok('room:leave', { roomId: 'den' }); // seq 5
    const carol = await h.clients.as('carol');

    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: bobs.seq, content: 'x' }),
      'NOT_MEMBER',
    );
    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: alices.seq, content: 'x' }),
      'FORBIDDEN',
    );
    expectError(
      await carol.request('room:edit', { roomId: 'den', seq: alices.seq, content: 'x' }),
      'FORBIDDEN',
    );
    expectError(
      await carol.request('room:edit', { roomId: 'den', seq: 42, content: 'x' }),
      'NOT_FOUND',
    );
    const marker = await roomMarker(alice, 'den', [alice]);
    expect(marker.seq).toBe(6);
  });
});

describe('room:edit with a zero edit window', () => {
  const h = useApp({ EDIT_WINDOW_SECONDS: '0' });

  it('should answer FORBIDDEN once the window passed, before NOT_MEMBER, while delete and react still work', async () => {
    const { alice, bob } = await den(h);
    const old = await post(alice, 'old'); // seq 3
    const bobs = await post(bob, "bob's"); // seq 4
    await bob.ok('room:leave', { roomId: 'den' }); // seq 5
    await clockPast(Date.parse(bobs.timestamp) + 1);

    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: old.seq, content: 'late' }),
      'FORBIDDEN',
    );
    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: bobs.seq, content: 'late' }),
      'FORBIDDEN',
    );

    const marker = await roomMarker(alice, 'den', [alice]);
    expect(marker.seq).toBe(6);
    await react(alice, old.seq, '👍'); // seq 7
    const { message } = await alice.ok('room:delete', { roomId: 'den', seq: old.seq as number });
    expect(message).toMatchObject({ type: 'room_delete', seq: 8, target: old.seq });
  });
});

describe('room:edit with a one-second edit window', () => {
  const h = useApp({ EDIT_WINDOW_SECONDS: '1' });

  it('should count the window from the message, not from its last edit', async () => {
    const { alice, bob } = await den(h);
    const message = await post(alice, 'v1'); // seq 3
    const sentAt = Date.parse(message.timestamp);

    await clockPast(sentAt + 500);
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'v2',
    }); // seq 4
    await clockPast(sentAt + 1001);
    const late = await alice.request('room:edit', { roomId: 'den', seq: 3, content: 'v3' });

    expectError(late, 'FORBIDDEN');
    expect(Date.now() - Date.parse(edit.timestamp)).toBeLessThan(1000);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3)).toMatchObject({ content: 'v2', editedAt: edit.timestamp });
    expect(seqs(messages)).toEqual([1, 2, 3, 4]);
  });
});

describe('v2 events on messages dropped by retention', () => {
  const h = useApp({ HISTORY_MAX_PER_ROOM: '5' });

  it('should answer NOT_FOUND for a dropped message, keep its later events as they are and report complete: false', async () => {
    const { alice, bob } = await den(h);
    const dropped = await post(alice, 'soon gone'); // seq 3
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'edited, soon gone',
    }); // seq 4
    for (let i = 0; i < 4; i++) await post(alice, `later ${i}`); // seq 5..8; 4..8 retained

    expectError(
      await alice.request('room:edit', { roomId: 'den', seq: dropped.seq, content: 'x' }),
      'NOT_FOUND',
    );
    expectError(
      await alice.request('room:delete', { roomId: 'den', seq: dropped.seq }),
      'NOT_FOUND',
    );
    expectError(
      await bob.request('room:react', { roomId: 'den', seq: dropped.seq, emoji: '👍' }),
      'NOT_FOUND',
    );

    const history = await bob.ok('room:history', { roomId: 'den' });
    expect(seqs(history.messages)).toEqual([4, 5, 6, 7, 8]);
    expect(history.messages[0]).toEqual(edit);
    expect(history.asOf).toBe(8);
    const recovery = await bob.ok('room:join', { roomId: 'den', since: 2 });
    expect(recovery.complete).toBe(false);
    expect(recovery.messages[0]).toEqual(edit);
  });
});

// ---- room:delete -----------------------------------------------------------------------

describe('room:delete', () => {
  const h = useApp();

  it('should let the sender delete: a room_delete to every member, and the message shown deleted with nothing else', async () => {
    const { alice, bob } = await den(h);
    const original = await post(alice, 'regret'); // seq 3
    await react(bob, 3, '👍'); // seq 4
    await alice.ok('room:edit', { roomId: 'den', seq: 3, content: 'regret more' }); // seq 5

    const reply = await alice.request('room:delete', { roomId: 'den', seq: 3 });

    const { message } = data(reply);
    expect(reply).toEqual({ ok: true, message });
    expect(message).toMatchObject({
      type: 'room_delete',
      roomId: 'den',
      seq: 6,
      target: 3,
      sender: { id: 'alice', name: 'Alice' },
      content: '',
    });
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expectAbsent(message, 'emoji', 'on', 'user', 'recipient', ...STATE_FIELDS);
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(await bob.waitFor(withId(message.id))).toEqual(message);

    const deleted = { ...original, content: '', deleted: true };
    const history = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(history.messages, 3)).toEqual(deleted);
    expect(atSeq(history.messages, 6)).toEqual(message);
    const carol = await h.clients.as('carol');
    const join = await carol.ok('room:join', { roomId: 'den' });
    expect(atSeq(join.messages, 3)).toEqual(deleted);
  });

  it("should let the room's owner delete another member's message", async () => {
    const { alice, bob } = await den(h);
    const bobs = await post(bob, 'spam'); // seq 3

    const { message } = await alice.ok('room:delete', { roomId: 'den', seq: bobs.seq as number });

    expect(message).toMatchObject({
      type: 'room_delete',
      seq: 4,
      target: 3,
      sender: { id: 'alice', name: 'Alice' },
      content: '',
    });
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3)).toEqual({ ...bobs, content: '', deleted: true });
  });

  it('should answer FORBIDDEN to a member who is neither the sender nor the owner, also in a room without owner', async () => {
    const { alice, bob } = await den(h);
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // seq 3
    const alices = await post(alice, "alice's"); // seq 4
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    const inGeneral = await post(alice, 'in general', 'general');

    expectError(await bob.request('room:delete', { roomId: 'den', seq: alices.seq }), 'FORBIDDEN');
    expectError(
      await carol.request('room:delete', { roomId: 'den', seq: alices.seq }),
      'FORBIDDEN',
    );
    expectError(
      await bob.request('room:delete', { roomId: 'general', seq: inGeneral.seq }),
      'FORBIDDEN',
    );

    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(5);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 4)).toEqual(alices);
  });

  it('should answer NOT_MEMBER to a sender or owner who left, FORBIDDEN to a non-member who is neither', async () => {
    const { alice, bob } = await den(h);
    const bobs = await post(bob, 'bob was here'); // seq 3
    const alices = await post(alice, 'alice was here'); // seq 4
    await bob.ok('room:leave', { roomId: 'den' }); // seq 5
    const carol = await h.clients.as('carol');

    expectError(await bob.request('room:delete', { roomId: 'den', seq: bobs.seq }), 'NOT_MEMBER');
    expectError(await bob.request('room:delete', { roomId: 'den', seq: alices.seq }), 'FORBIDDEN');
    expectError(await carol.request('room:delete', { roomId: 'den', seq: bobs.seq }), 'FORBIDDEN');
    await carol.ok('room:join', { roomId: 'den' }); // seq 6
    await alice.ok('room:leave', { roomId: 'den' }); // seq 7
    // The owner stays the owner after leaving, but deleting needs membership.
    expectError(await alice.request('room:delete', { roomId: 'den', seq: bobs.seq }), 'NOT_MEMBER');

    const marker = await roomMarker(carol, 'den', [carol]);
    expect(marker.seq).toBe(8);
  });

  it('should answer NOT_FOUND for a deleted message, a non-message seq and an unknown room', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'once'); // seq 3
    const { message: first } = await alice.ok('room:delete', { roomId: 'den', seq: 3 }); // 4

    expectError(await alice.request('room:delete', { roomId: 'den', seq: 3 }), 'NOT_FOUND');
    expectError(await bob.request('room:delete', { roomId: 'den', seq: 3 }), 'NOT_FOUND');
    expectError(await alice.request('room:delete', { roomId: 'den', seq: 4 }), 'NOT_FOUND');
    expectError(await alice.request('room:delete', { roomId: 'den', seq: 1 }), 'NOT_FOUND');
    expectError(await alice.request('room:delete', { roomId: 'den', seq: 50 }), 'NOT_FOUND');
    expectError(await alice.request('room:delete', { roomId: 'nowhere', seq: 3 }), 'NOT_FOUND');

    const marker = await roomMarker(alice, 'den', [alice, bob]);
    expect(marker.seq).toBe(5);
    for (const c of [alice, bob]) {
      expect(c.received.filter((m) => m.type === 'room_delete')).toEqual([first]);
    }
  });

  it.each([
    ['no payload', undefined],
    ['a missing seq', { roomId: 'den' }],
    ['seq 0', { roomId: 'den', seq: 0 }],
    ['a negative seq', { roomId: 'den', seq: -1 }],
    ['a fractional seq', { roomId: 'den', seq: 3.5 }],
    ['a string seq', { roomId: 'den', seq: '3' }],
    ['a null seq', { roomId: 'den', seq: null }],
    ['a malformed roomId', { roomId: 'd e n', seq: 3 }],
    ['a malformed roomId with an unknown room', { roomId: '', seq: 3 }],
  ])('should answer INVALID_PAYLOAD to %s', async (_label, payload) => {
    const { alice } = await den(h);
    await post(alice, 'stays'); // seq 3

    expectError(await alice.request('room:delete', payload), 'INVALID_PAYLOAD');

    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    expectAbsent(atSeq(messages, 3), 'deleted');
  });
});

// ---- room:react ------------------------------------------------------------------------

describe('room:react', () => {
  const h = useApp();

  it('should store a room_reaction (on defaulting to true) and deliver it to every member', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'react to me'); // seq 3

    const reply = await bob.request('room:react', { roomId: 'den', seq: 3, emoji: '👍' });

    const message = data(reply).message as ChatMessage;
    expect(reply).toEqual({ ok: true, message });
    expect(message).toMatchObject({
      type: 'room_reaction',
      roomId: 'den',
      seq: 4,
      target: 3,
      emoji: '👍',
      on: true,
      user: { id: 'bob', name: 'Bob' },
      sender: { id: 'bob', name: 'Bob' },
      content: '',
    });
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expectAbsent(message, 'recipient', ...STATE_FIELDS);
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(await bob.waitFor(withId(message.id))).toEqual(message);
  });

  it('should remove a reaction with on: false', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'hmm'); // seq 3
    await react(bob, 3, '🎉', { on: true }); // seq 4

    const off = await react(bob, 3, '🎉', { on: false }); // seq 5

    expect(off).toMatchObject({
      type: 'room_reaction',
      seq: 5,
      target: 3,
      emoji: '🎉',
      on: false,
      user: { id: 'bob', name: 'Bob' },
      content: '',
    });
    expect(await alice.waitFor(withId(off.id))).toEqual(off);
    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    expectAbsent(atSeq(messages, 3), ...STATE_FIELDS);
  });

  it('should answer {} and send nothing when the reaction changes nothing', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'once is enough'); // seq 3
    const added = await react(bob, 3, '👍'); // seq 4

    const again = await bob.request('room:react', { roomId: 'den', seq: 3, emoji: '👍' });
    const againOn = await bob.request('room:react', {
      roomId: 'den',
      seq: 3,
      emoji: '👍',
      on: true,
    });
    const notHad = await bob.request('room:react', {
      roomId: 'den',
      seq: 3,
      emoji: '❤️',
      on: false,
    });
    const notMine = await alice.request('room:react', {
      roomId: 'den',
      seq: 3,
      emoji: '👍',
      on: false,
    });

    for (const reply of [again, againOn, notHad, notMine]) expect(reply).toEqual({ ok: true });
    const marker = await roomMarker(alice, 'den', [alice, bob]);
    expect(marker.seq).toBe(5);
    for (const c of [alice, bob]) {
      expect(c.received.filter((m) => m.type === 'room_reaction')).toEqual([added]);
    }
    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3).reactions).toEqual({ '👍': 1 });
  });

  it("should show reaction counts to everyone and each caller's own in myReactions", async () => {
    const { alice, bob } = await den(h);
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // seq 3
    await post(carol, 'vote'); // seq 4
    await react(alice, 4, '👍'); // 5
    await react(bob, 4, '👍'); // 6
    await react(bob, 4, '❤️'); // 7

    const atAlice = atSeq((await alice.ok('room:history', { roomId: 'den' })).messages, 4);
    const atBob = atSeq((await bob.ok('room:history', { roomId: 'den' })).messages, 4);
    const atCarol = atSeq((await carol.ok('room:history', { roomId: 'den' })).messages, 4);
    const dave = await h.clients.as('dave');
    const atDave = atSeq((await dave.ok('room:join', { roomId: 'den' })).messages, 4);

    const reactions = { '👍': 2, '❤️': 1 };
    expect(atAlice.reactions).toEqual(reactions);
    expect(atAlice.myReactions).toEqual(['👍']);
    expect(atBob.reactions).toEqual(reactions);
    expect([...(atBob.myReactions ?? [])].sort()).toEqual(['❤️', '👍'].sort());
    expect(atCarol.reactions).toEqual(reactions);
    expectAbsent(atCarol, 'myReactions', 'edited', 'editedAt', 'deleted');
    expect(atDave.reactions).toEqual(reactions);
    expectAbsent(atDave, 'myReactions');
    expect(atCarol.content).toBe('vote');
  });

  it.each([
    ['a space inside', 'a b'],
    ['a leading space', ' 👍'],
    ['a trailing newline', '👍\n'],
    ['a tab', '\t'],
    ['a no-break space', '\u00a0'],
    ['an ideographic space', '\u3000'],
    ['a BOM', '\ufeff👍'],
    ['a line separator', '\u2028'],
    ['a bell', '\u0007'],
    ['a NUL', 'x\u0000'],
    ['a C1 control', 'x\u0085'],
    ['DEL', 'x\u007f'],
    ['a lone surrogate', '\ud83d'],
    ['17 letters', 'x'.repeat(17)],
    ['17 emoji', '😀'.repeat(17)],
    ['an empty string', ''],
    ['a number', 5],
    ['a boolean', true],
    ['null', null],
    ['an array', ['👍']],
    ['an object', { emoji: '👍' }],
  ])('should answer INVALID_PAYLOAD to an emoji with %s', async (_label, emoji) => {
    const { alice, bob } = await den(h);
    await post(alice, 'x'); // seq 3

    expectError(
      await bob.request('room:react', { roomId: 'den', seq: 3, emoji }),
      'INVALID_PAYLOAD',
    );

    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(4);
  });

  it.each([
    ['no payload', undefined],
    ['a missing emoji', { roomId: 'den', seq: 3 }],
    ['a missing seq', { roomId: 'den', emoji: '👍' }],
    ['seq 0', { roomId: 'den', seq: 0, emoji: '👍' }],
    ['a fractional seq', { roomId: 'den', seq: 2.5, emoji: '👍' }],
    ['a string on', { roomId: 'den', seq: 3, emoji: '👍', on: 'true' }],
    ['a number on', { roomId: 'den', seq: 3, emoji: '👍', on: 1 }],
    ['a null on', { roomId: 'den', seq: 3, emoji: '👍', on: null }],
    ['a malformed roomId', { roomId: 'den!', seq: 3, emoji: '👍' }],
  ])('should answer INVALID_PAYLOAD to %s', async (_label, payload) => {
    const { alice, bob } = await den(h);
    await post(alice, 'x'); // seq 3

    expectError(await bob.request('room:react', payload), 'INVALID_PAYLOAD');
  });

  it('should accept any token of 1-16 code points without whitespace or controls', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'tokens'); // seq 3
    const tokens = ['👍', '👨‍👩‍👧', '+1', '🇰🇷', ':thumbsup:', 'x'.repeat(16), '😀'.repeat(16), '철수'];

    const stored: ChatMessage[] = [];
    for (const emoji of tokens) stored.push(await react(bob, 3, emoji));

    expect(stored.map((m) => m.emoji)).toEqual(tokens);
    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3).reactions).toEqual(
      Object.fromEntries(tokens.map((emoji) => [emoji, 1])),
    );
  });

  it('should answer FORBIDDEN to a 21st distinct emoji on one message, from one user', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'so many'); // seq 3
    const twenty = Array.from({ length: 20 }, (_, i) => `e${i}`);
    for (const emoji of twenty) await react(bob, 3, emoji); // seq 4..23

    expectError(
      await bob.request('room:react', { roomId: 'den', seq: 3, emoji: 'e20' }),
      'FORBIDDEN',
    );
    expectError(
      await alice.request('room:react', { roomId: 'den', seq: 3, emoji: '🆕' }),
      'FORBIDDEN',
    );
    // One of the twenty, by another user, is no new emoji.
    const more = await react(alice, 3, 'e0'); // seq 24
    expect(more.seq).toBe(24);
    // Removing one makes room for another.
    await react(bob, 3, 'e5', { on: false }); // seq 25
    await react(bob, 3, 'e20'); // seq 26

    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    const reactions = atSeq(messages, 3).reactions ?? {};
    expect(Object.keys(reactions)).toHaveLength(20);
    expect(reactions).toMatchObject({ e0: 2, e20: 1 });
    expect(reactions).not.toHaveProperty('e5');
    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(27);
  });

  it('should store one reaction when the same one is sent several times at once', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'race'); // seq 3

    const replies = await Promise.all(
      Array.from({ length: 4 }, () =>
        bob.request('room:react', { roomId: 'den', seq: 3, emoji: '👍' }),
      ),
    );
    const offs = await Promise.all(
      Array.from({ length: 4 }, () =>
        bob.request('room:react', { roomId: 'den', seq: 3, emoji: '👍', on: false }),
      ),
    );

    const stored = [...replies, ...offs].map((r) => data(r).message).filter((m) => m !== undefined);
    expect(stored.map((m) => [m.seq, m.on])).toEqual([
      [4, true],
      [5, false],
    ]);
    const marker = await roomMarker(alice, 'den', [alice]);
    expect(marker.seq).toBe(6);
    expect(alice.received.filter((m) => m.type === 'room_reaction')).toEqual(stored);
  });

  it('should answer NOT_FOUND for a seq that is not an undeleted room_chat and for an unknown room, NOT_MEMBER to a non-member', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'target'); // seq 3
    await react(bob, 3, '👍'); // seq 4
    await post(alice, 'doomed'); // seq 5
    await alice.ok('room:delete', { roomId: 'den', seq: 5 }); // seq 6
    const carol = await h.clients.as('carol');

    const reactTo = (c: TestClient, roomId: string, seq: number) =>
      c.request('room:react', { roomId, seq, emoji: '👀' });
    expectError(await reactTo(bob, 'nowhere', 3), 'NOT_FOUND');
    expectError(await reactTo(bob, 'den', 1), 'NOT_FOUND');
    expectError(await reactTo(bob, 'den', 4), 'NOT_FOUND');
    expectError(await reactTo(bob, 'den', 5), 'NOT_FOUND');
    expectError(await reactTo(bob, 'den', 6), 'NOT_FOUND');
    expectError(await reactTo(bob, 'den', 70), 'NOT_FOUND');
    expectError(await reactTo(carol, 'den', 70), 'NOT_FOUND');
    expectError(await reactTo(carol, 'den', 3), 'NOT_MEMBER');
    expectError(
      await carol.request('room:react', { roomId: 'den', seq: 3, emoji: '👍', on: false }),
      'NOT_MEMBER',
    );

    const marker = await roomMarker(alice, 'den', [bob]);
    expect(marker.seq).toBe(7);
  });
});

describe('room:react with twenty reacting users', () => {
  const h = useApp(HIGH_RATE);

  it('should answer FORBIDDEN to a 21st distinct emoji brought by a 21st user, before NOT_MEMBER', async () => {
    const { alice } = await den(h);
    await post(alice, 'crowd'); // seq 3
    const users: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const user = await h.clients.as(`u${i}`);
      await user.ok('room:join', { roomId: 'den' });
      users.push(user);
    }
    await Promise.all(users.map((u, i) => react(u, 3, `r${i}`)));
    const late = await h.clients.as('late');
    await late.ok('room:join', { roomId: 'den' });
    const outsider = await h.clients.as('outsider');

    expectError(
      await late.request('room:react', { roomId: 'den', seq: 3, emoji: 'r20' }),
      'FORBIDDEN',
    );
    expectError(
      await outsider.request('room:react', { roomId: 'den', seq: 3, emoji: 'r21' }),
      'FORBIDDEN',
    );
    await react(late, 3, 'r7');

    const { messages } = await late.ok('room:history', { roomId: 'den' });
    const reactions = atSeq(messages, 3).reactions ?? {};
    expect(Object.keys(reactions)).toHaveLength(20);
    expect(reactions.r7).toBe(2);
    expect(atSeq(messages, 3).myReactions).toEqual(['r7']);
  });
});

// ---- current state and asOf ------------------------------------------------------------

describe('asOf and the state in replies', () => {
  const h = useApp();

  it("should carry asOf, the room's latest seq, in room:history and room:join replies", async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a'); // seq 3
    await post(bob, 'b'); // seq 4

    const all = await alice.ok('room:history', { roomId: 'den' });
    const page = await alice.ok('room:history', { roomId: 'den', before: 3, limit: 1 });
    const none = await alice.ok('room:history', { roomId: 'den', before: 1 });
    const carol = await h.clients.as('carol');
    const join = await carol.ok('room:join', { roomId: 'den' }); // seq 5
    const recovery = await bob.ok('room:join', { roomId: 'den', since: 3 });

    expect(all.asOf).toBe(4);
    expect(seqs(page.messages)).toEqual([2]);
    expect(page.asOf).toBe(4);
    expect(none).toMatchObject({ messages: [], asOf: 4 });
    expect(join.asOf).toBe(5);
    expect(recovery.asOf).toBe(5);
    expect(seqs(recovery.messages)).toEqual([4, 5]);
  });

  it('should count room_edit, room_delete and room_reaction events towards limit', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'one'); // seq 3
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'one!',
    }); // seq 4
    const reaction = await react(bob, 3, '👍'); // seq 5
    await post(alice, 'two'); // seq 6
    const { message: deletion } = await alice.ok('room:delete', { roomId: 'den', seq: 6 }); // 7

    const last = await bob.ok('room:history', { roomId: 'den', limit: 3 });
    const middle = await bob.ok('room:history', { roomId: 'den', before: 6, limit: 2 });

    expect(seqs(last.messages)).toEqual([5, 6, 7]);
    expect(last.messages[0]).toEqual(reaction);
    expect(last.messages[1]).toMatchObject({ type: 'room_chat', content: '', deleted: true });
    expect(last.messages[2]).toEqual(deletion);
    expect(middle.messages).toEqual([edit, reaction]);
  });

  it("should give each message its state as of asOf, with events after the reply's own page", async () => {
    const { alice, bob } = await den(h);
    const message = await post(alice, 'early'); // seq 3
    await post(alice, 'filler'); // seq 4
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'early, edited',
    }); // seq 5
    await react(bob, 3, '🔥'); // seq 6

    const page = await bob.ok('room:history', { roomId: 'den', before: 4 });
    await react(alice, 3, '🔥'); // seq 7
    const later = await bob.ok('room:history', { roomId: 'den', before: 4 });
    const join = await bob.ok('room:join', { roomId: 'den', since: 2 });

    expect(seqs(page.messages)).toEqual([1, 2, 3]);
    expect(page.asOf).toBe(6);
    expect(atSeq(page.messages, 3)).toEqual({
      ...message,
      content: 'early, edited',
      edited: true,
      editedAt: edit.timestamp,
      reactions: { '🔥': 1 },
      myReactions: ['🔥'],
    });
    expect(later.asOf).toBe(7);
    expect(atSeq(later.messages, 3).reactions).toEqual({ '🔥': 2 });
    expect(join.asOf).toBe(7);
    expect(atSeq(join.messages, 3).reactions).toEqual({ '🔥': 2 });
  });
});

// ---- room:join with since --------------------------------------------------------------

describe('room:join with since', () => {
  const h = useApp();

  it('should bring room_edit, room_delete and room_reaction events in seq order with their own fields', async () => {
    const { alice, bob } = await den(h);
    const first = await post(alice, 'first'); // seq 3
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'first!',
    }); // 4
    const on = await react(bob, 3, '👍'); // 5
    const second = await post(bob, 'second'); // 6
    const { message: deletion } = await bob.ok('room:delete', { roomId: 'den', seq: 6 }); // 7
    const off = await react(bob, 3, '👍', { on: false }); // 8
    await alice.waitFor(withId(off.id));
    const carol = await h.clients.as('carol', 'Carol');

    const reply = await carol.ok('room:join', { roomId: 'den', since: 2 }); // seq 9

    expect(seqs(reply.messages)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(reply.complete).toBe(true);
    expect(reply.asOf).toBe(9);
    const [m3, m4, m5, m6, m7, m8, m9] = reply.messages;
    expect(m3).toEqual({
      ...first,
      content: 'first!',
      edited: true,
      editedAt: edit.timestamp,
    });
    expect(m4).toEqual(edit);
    expect(m5).toEqual(on);
    expect(m6).toEqual({ ...second, content: '', deleted: true });
    expect(m7).toEqual(deletion);
    expect(m8).toEqual(off);
    expect(m9).toMatchObject({ type: 'room_join', user: { id: 'carol', name: 'Carol' } });
    // The events a client applies live are the very ones the reply holds.
    const v2Types = ['room_edit', 'room_delete', 'room_reaction'];
    const live = alice.received.filter((m) => v2Types.includes(m.type));
    expect(live).toEqual([edit, on, deletion, off]);
  });
});

describe('room:join with since, in pages', () => {
  const h = useApp({ ...HIGH_RATE, RECOVERY_BATCH_BYTES: '16384' });

  it("should give the first page's messages their state as of asOf, with events after the page", async () => {
    const { alice, bob } = await den(h);
    for (let i = 0; i < 16; i++) await post(alice, `${i} `.padEnd(1500, 'x')); // seq 3..18
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'short now',
    }); // seq 19
    await react(bob, 4, '👍'); // seq 20

    const first = await bob.ok('room:join', { roomId: 'den', since: 2 });
    const lastOfFirst = first.messages.at(-1)?.seq as number;
    const rest = await bob.ok('room:join', { roomId: 'den', since: lastOfFirst });

    expect(first.more).toBe(true);
    expect(lastOfFirst).toBeLessThan(19);
    expect(first.asOf).toBe(20);
    expect(atSeq(first.messages, 3)).toMatchObject({
      content: 'short now',
      edited: true,
      editedAt: edit.timestamp,
    });
    expect(atSeq(first.messages, 4)).toMatchObject({ reactions: { '👍': 1 }, myReactions: ['👍'] });
    expect(seqs([...first.messages, ...rest.messages])).toEqual(
      Array.from({ length: 18 }, (_, i) => i + 3),
    );
    expect(rest.messages.at(-2)).toEqual(edit);
  });
});

// ---- room:read -------------------------------------------------------------------------

describe('room:read', () => {
  const h = useApp();

  it('should return lastRead, never going back, a seq past the latest counting as the latest', async () => {
    const { alice, bob } = await den(h);
    for (const content of ['a', 'b', 'c']) await post(alice, content); // seq 3..5

    const replies = [];
    for (const seq of [0, 4, 2, 4, 1000, 0, 3]) {
      replies.push(await bob.request('room:read', { roomId: 'den', seq }));
    }

    expect(replies).toEqual([
      { ok: true, lastRead: 0 },
      { ok: true, lastRead: 4 },
      { ok: true, lastRead: 4 },
      { ok: true, lastRead: 4 },
      { ok: true, lastRead: 5 },
      { ok: true, lastRead: 5 },
      { ok: true, lastRead: 5 },
    ]);
    // Later events are not read by a seq that was past the latest.
    // Read marks take no seq of their own.
    expect((await post(alice, 'd')).seq).toBe(6);
    const room = (await bob.ok('room:list')).rooms.find((r) => r.id === 'den');
    expect(room).toMatchObject({ lastRead: 5, unread: 1 });
    // Read marks are per user.
    expect(await alice.request('room:read', { roomId: 'den', seq: 2 })).toEqual({
      ok: true,
      lastRead: 2,
    });
  });

  it('should answer NOT_FOUND for an unknown room and NOT_MEMBER to a non-member', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a'); // seq 3
    const carol = await h.clients.as('carol');
    await bob.ok('room:leave', { roomId: 'den' });

    expectError(await alice.request('room:read', { roomId: 'nowhere', seq: 1 }), 'NOT_FOUND');
    expectError(await carol.request('room:read', { roomId: 'nowhere', seq: 0 }), 'NOT_FOUND');
    expectError(await carol.request('room:read', { roomId: 'den', seq: 3 }), 'NOT_MEMBER');
    expectError(await bob.request('room:read', { roomId: 'den', seq: 3 }), 'NOT_MEMBER');
    expectError(await carol.request('room:read', { roomId: 'general', seq: 0 }), 'NOT_MEMBER');
  });

  it.each([
    ['no payload', undefined],
    ['a missing seq', { roomId: 'den' }],
    ['a negative seq', { roomId: 'den', seq: -1 }],
    ['a fractional seq', { roomId: 'den', seq: 0.5 }],
    ['a string seq', { roomId: 'den', seq: '3' }],
    ['a null seq', { roomId: 'den', seq: null }],
    ['a missing roomId', { seq: 3 }],
    ['a malformed roomId of an unknown room', { roomId: 'no where', seq: 3 }],
  ])('should answer INVALID_PAYLOAD to %s', async (_label, payload) => {
    const { bob } = await den(h);

    expectError(await bob.request('room:read', payload), 'INVALID_PAYLOAD');
  });

  it("should give room:list rooms lastRead and unread: others' undeleted messages after lastRead", async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a1'); // 3
    await post(alice, 'a2'); // 4
    await post(alice, 'a3'); // 5
    await post(bob, 'b1'); // 6
    await alice.ok('room:edit', { roomId: 'den', seq: 3, content: 'a1!' }); // 7
    await react(bob, 3, '👍'); // 8
    await react(alice, 6, '👍'); // 9
    await alice.ok('room:delete', { roomId: 'den', seq: 5 }); // 10
    await post(alice, 'a4'); // 11
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // 12
    await carol.ok('room:leave', { roomId: 'den' }); // 13

    const stateOf = async (c: TestClient, roomId = 'den') =>
      (await c.ok('room:list')).rooms.find((r) => r.id === roomId);

    const list = await bob.ok('room:list');
    for (const room of list.rooms) {
      expect(room).toMatchObject({
        name: expect.any(String),
        members: expect.any(Number),
        private: expect.any(Boolean),
        lastRead: expect.any(Number),
        unread: expect.any(Number),
      });
    }
    expect(list.rooms.find((r) => r.id === 'general')).toMatchObject({ lastRead: 0, unread: 0 });
    expect(await stateOf(bob)).toMatchObject({ lastRead: 0, unread: 3 }); // a1, a2, a4
    expect(await stateOf(alice)).toMatchObject({ lastRead: 0, unread: 1 }); // b1
    await bob.ok('room:read', { roomId: 'den', seq: 4 });
    expect(await stateOf(bob)).toMatchObject({ lastRead: 4, unread: 1 }); // a4
    await alice.ok('room:read', { roomId: 'den', seq: 5 });
    expect(await stateOf(alice)).toMatchObject({ lastRead: 5, unread: 1 }); // b1
    await alice.ok('room:read', { roomId: 'den', seq: 6 });
    expect(await stateOf(alice)).toMatchObject({ lastRead: 6, unread: 0 });
    await bob.ok('room:read', { roomId: 'den', seq: 1000 });
    expect(await stateOf(bob)).toMatchObject({ lastRead: 13, unread: 0 });
    // Deleting a message one has not read takes it out of unread.
    await post(alice, 'a5'); // 14
    expect(await stateOf(bob)).toMatchObject({ lastRead: 13, unread: 1 });
    await alice.ok('room:delete', { roomId: 'den', seq: 14 }); // 15
    expect(await stateOf(bob)).toMatchObject({ lastRead: 13, unread: 0 });
  });

  it('should give the room:join reply lastRead and unread for the joiner', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a1'); // 3
    await post(alice, 'a2'); // 4
    await post(bob, 'b1'); // 5
    await bob.ok('room:read', { roomId: 'den', seq: 3 });
    await bob.ok('room:leave', { roomId: 'den' }); // 6
    await post(alice, 'a3'); // 7
    await react(alice, 5, '👍'); // 8

    const back = await bob.ok('room:join', { roomId: 'den' }); // 9
    const carol = await h.clients.as('carol');
    const fresh = await carol.ok('room:join', { roomId: 'den', since: 0 }); // 10

    expect(back.lastRead).toBe(3);
    expect(back.unread).toBe(2); // a2, a3
    expect(fresh.lastRead).toBe(0);
    expect(fresh.unread).toBe(4); // a1, a2, b1, a3
  });

  it('should start again from 0 in a room created again after it was closed', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'old'); // seq 3
    await bob.ok('room:read', { roomId: 'den', seq: 3 });
    const closed = await call(h.app, 'DELETE', '/api/rooms/den');
    expect(closed.status).toBe(204);

    await alice.ok('room:create', { roomId: 'den' }); // seq 1
    const join = await bob.ok('room:join', { roomId: 'den' }); // seq 2
    await post(alice, 'new'); // seq 3

    expect(join).toMatchObject({ lastRead: 0, unread: 0 });
    expect((await bob.ok('room:list')).rooms.find((r) => r.id === 'den')).toMatchObject({
      lastRead: 0,
      unread: 1,
    });
  });
});

describe('room:read and the send rate', () => {
  const h = useApp({ RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_SECOND: '1' });

  it('should never answer RATE_LIMITED to room:read', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await post(alice, 'the one token', 'general'); // seq 2

    const reads = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        alice.request('room:read', { roomId: 'general', seq: i % 3 }),
      ),
    );
    const second = await alice.request('room:message', { roomId: 'general', content: 'two' });

    expect(reads.map(codeOf)).toEqual(Array.from({ length: 30 }, () => 'ok'));
    expect(reads.at(-1)).toEqual({ ok: true, lastRead: 2 });
    expectError(second, 'RATE_LIMITED');
  });
});

// ---- read receipts ---------------------------------------------------------------------

describe('read receipts', () => {
  const h = useApp();

  /** Alice owns den, bob is in it with a second socket. */
  async function tracked() {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const bob2 = await h.clients.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'den' }); // seq 1
    await bob.ok('room:join', { roomId: 'den' }); // seq 2
    await bob2.waitFor(joinOf('den', 'bob'));
    return { alice, bob, bob2 };
  }

  it("should send read { roomId, user, seq } to the other members, not to the reader's own sockets", async () => {
    const { alice, bob, bob2 } = await tracked();
    await post(alice, 'read me'); // seq 3

    await bob.ok('room:read', { roomId: 'den', seq: 3 });

    const receipt = await alice.waitForEvent('read', receiptOf('bob', 3));
    expect(receipt).toEqual({ roomId: 'den', user: { id: 'bob', name: 'Bob' }, seq: 3 });
    // A receipt of alice's reaches both of bob's sockets: bob's own came before it, if at all.
    await alice.ok('room:read', { roomId: 'den', seq: 3 });
    for (const c of [bob, bob2]) {
      expect(await c.waitForEvent('read', receiptOf('alice', 3))).toEqual({
        roomId: 'den',
        user: { id: 'alice', name: 'Alice' },
        seq: 3,
      });
      expect(c.events('read').filter((r) => r.user.id === 'bob')).toEqual([]);
    }
    expect(alice.events('read')).toEqual([receipt]);
  });

  it('should carry the new lastRead, and send nothing when lastRead did not move', async () => {
    const { alice, bob } = await tracked();
    await post(alice, 'one'); // seq 3
    await post(alice, 'two'); // seq 4

    await bob.ok('room:read', { roomId: 'den', seq: 1000 }); // lastRead 4
    await bob.ok('room:read', { roomId: 'den', seq: 4 });
    await bob.ok('room:read', { roomId: 'den', seq: 2 });
    await bob.ok('room:read', { roomId: 'den', seq: 0 });
    await bob.ok('room:read', { roomId: 'den', seq: 1000 });
    await post(alice, 'three'); // seq 5
    await bob.ok('room:read', { roomId: 'den', seq: 5 });

    await alice.waitForEvent('read', receiptOf('bob', 5));
    expect(alice.events('read').map((r) => r.seq)).toEqual([4, 5]);
  });

  it('should not be sent for room:read of seq 0 when nothing was read', async () => {
    const { alice, bob } = await tracked();
    await bob.ok('room:read', { roomId: 'den', seq: 0 });
    await bob.ok('room:read', { roomId: 'den', seq: 2 });

    await alice.waitForEvent('read', receiptOf('bob', 2));
    expect(alice.events('read')).toHaveLength(1);
  });
});

describe('read receipts with READ_RECEIPTS_MAX_MEMBERS=2', () => {
  const h = useApp({ READ_RECEIPTS_MAX_MEMBERS: '2' });

  it('should send receipts in a room of two members and none once it has three', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a'); // seq 3
    await bob.ok('room:read', { roomId: 'den', seq: 3 });
    await alice.waitForEvent('read', receiptOf('bob', 3));
    const carol = await h.clients.as('carol');
    await carol.ok('room:join', { roomId: 'den' }); // seq 4

    await bob.ok('room:read', { roomId: 'den', seq: 4 });
    await carol.ok('room:read', { roomId: 'den', seq: 4 });

    await roomMarker(bob, 'den', [alice, carol]);
    expect(alice.events('read')).toEqual([
      { roomId: 'den', user: { id: 'bob', name: 'Bob' }, seq: 3 },
    ]);
    expect(carol.events('read')).toEqual([]);
  });
});

describe('read receipts with READ_RECEIPTS_MAX_MEMBERS=0', () => {
  const h = useApp({ READ_RECEIPTS_MAX_MEMBERS: '0' });

  it('should send no receipts at all', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'a'); // seq 3

    expect(await bob.request('room:read', { roomId: 'den', seq: 3 })).toEqual({
      ok: true,
      lastRead: 3,
    });
    await alice.ok('room:read', { roomId: 'den', seq: 3 });

    await roomMarker(alice, 'den', [alice, bob]);
    expect(alice.events('read')).toEqual([]);
    expect(bob.events('read')).toEqual([]);
  });
});

// ---- blocking --------------------------------------------------------------------------

describe('user:block, user:unblock and user:blocks', () => {
  const h = useApp();

  it('should keep the block list, any valid user id online or not, repeats changing nothing', async () => {
    const alice = await h.clients.as('alice');
    await h.clients.as('bob');

    expect(await alice.request('user:blocks')).toEqual({ ok: true, users: [] });
    expect(await alice.request('user:block', { userId: 'bob' })).toEqual({ ok: true });
    expect(await alice.request('user:block', { userId: 'never-seen' })).toEqual({ ok: true });
    expect(await alice.request('user:block', { userId: 'bob' })).toEqual({ ok: true });
    const both = await alice.ok('user:blocks', {});
    expect([...both.users].sort()).toEqual(['bob', 'never-seen']);
    expect(await alice.request('user:unblock', { userId: 'bob' })).toEqual({ ok: true });
    expect(await alice.request('user:unblock', { userId: 'bob' })).toEqual({ ok: true });
    expect(await alice.request('user:unblock', { userId: 'nobody' })).toEqual({ ok: true });
    expect(await alice.request('user:blocks')).toEqual({ ok: true, users: ['never-seen'] });
    // Block lists are per user.
    const bob = await h.clients.as('bob');
    expect(await bob.request('user:blocks')).toEqual({ ok: true, users: [] });
  });

  it.each([
    ['user:block', 'oneself', { userId: 'alice' }],
    ['user:unblock', 'oneself', { userId: 'alice' }],
    ['user:block', 'the reserved id system', { userId: 'system' }],
    ['user:block', 'a malformed id', { userId: 'bad id!' }],
    ['user:block', 'an empty id', { userId: '' }],
    ['user:block', 'a null id', { userId: null }],
    ['user:block', 'a number id', { userId: 7 }],
    ['user:block', 'a missing id', {}],
    ['user:block', 'no payload', undefined],
    ['user:unblock', 'a malformed id', { userId: 'x y' }],
    ['user:blocks', 'a string payload', 'me'],
  ] as const)('should answer %s of %s with INVALID_PAYLOAD', async (event, _label, payload) => {
    const alice = await h.clients.as('alice');

    expectError(await alice.request(event, payload), 'INVALID_PAYLOAD');
    expect(await alice.request('user:blocks')).toEqual({ ok: true, users: [] });
  });
});

describe('blocking', () => {
  const h = useApp();

  it("should refuse the blocked user's private:message and memo:send with FORBIDDEN, delivering nothing", async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    const carol = await h.clients.as('carol');
    await alice.ok('user:block', { userId: 'bob' });

    expectError(
      await bob.request('private:message', { to: 'alice', content: 'pm from bob' }),
      'FORBIDDEN',
    );
    expectError(
      await bob.request('memo:send', { to: 'alice', content: 'memo from bob' }),
      'FORBIDDEN',
    );
    // alice may still write to bob, and others to alice.
    const pm = await alice.ok('private:message', { to: 'bob', content: 'pm to bob' });
    const memo = await alice.ok('memo:send', { to: 'bob', content: 'memo to bob' });
    await bob.waitFor(withId(pm.message.id));
    await bob.waitFor(withId(memo.message.id));
    expect(memo.delivered).toBe(true);
    await memoMarker(carol, 'alice', [alice]);
    await memoMarker(carol, 'bob', [bob]);

    for (const c of [alice, bob]) {
      expect(c.received.filter((m) => m.sender.id === 'bob')).toEqual([]);
    }
    // Other users are not affected by alice's block.
    await bob.ok('memo:send', { to: 'carol', content: 'bob to carol' });
  });

  it('should answer FORBIDDEN, not USER_OFFLINE, when the blocking user is offline, and store nothing', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    const carol = await h.clients.as('carol');
    await alice.ok('user:block', { userId: 'bob' });
    alice.close();
    await bob.waitFor(disconnectOf('alice'));

    expectError(
      await bob.request('private:message', { to: 'alice', content: 'are you there' }),
      'FORBIDDEN',
    );
    expectError(await bob.request('memo:send', { to: 'alice', content: 'for later' }), 'FORBIDDEN');
    expectError(
      await carol.request('private:message', { to: 'alice', content: 'control' }),
      'USER_OFFLINE',
    );
    const stored = await carol.ok('memo:send', {
      to: 'alice',
      content: `stored ${nextMarker()}`,
    });
    expect(stored.delivered).toBe(false);

    const back = await h.clients.as('alice');
    await back.waitFor(withId(stored.message.id));
    expect(back.received.filter((m) => m.sender.id === 'bob')).toEqual([]);
    expect(await back.request('user:blocks')).toEqual({ ok: true, users: ['bob'] });
  });

  it('should use up no clientMsgId on a refused send and replay one used before the block', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    const before = await bob.ok('memo:send', {
      to: 'alice',
      content: 'before the block',
      clientMsgId: 'b-1',
    });
    const pmBefore = await bob.ok('private:message', {
      to: 'alice',
      content: 'pm before the block',
      clientMsgId: 'b-2',
    });
    await alice.waitFor(withId(pmBefore.message.id));
    await alice.ok('user:block', { userId: 'bob' });

    const replay = await bob.request('memo:send', {
      to: 'alice',
      content: 'anything',
      clientMsgId: 'b-1',
    });
    const pmReplay = await bob.request('private:message', {
      to: 'alice',
      content: 'anything',
      clientMsgId: 'b-2',
    });
    const refusedMemo = await bob.request('memo:send', {
      to: 'alice',
      content: 'refused',
      clientMsgId: 'b-3',
    });
    const refusedPm = await bob.request('private:message', {
      to: 'alice',
      content: 'refused',
      clientMsgId: 'b-4',
    });
    await alice.ok('user:unblock', { userId: 'bob' });
    const afterMemo = await bob.ok('memo:send', {
      to: 'alice',
      content: 'after the unblock',
      clientMsgId: 'b-3',
    });
    const afterPm = await bob.ok('private:message', {
      to: 'alice',
      content: 'pm after the unblock',
      clientMsgId: 'b-4',
    });

    expect(replay).toEqual({ ok: true, ...before });
    expect(pmReplay).toEqual({ ok: true, ...pmBefore });
    expectError(refusedMemo, 'FORBIDDEN');
    expectError(refusedPm, 'FORBIDDEN');
    expect(afterMemo.message).toMatchObject({
      type: 'instant_message',
      content: 'after the unblock',
    });
    expect(afterMemo.delivered).toBe(true);
    expect(afterPm.message).toMatchObject({
      type: 'private_chat',
      content: 'pm after the unblock',
    });
    await alice.waitFor(withId(afterMemo.message.id));
    await alice.waitFor(withId(afterPm.message.id));
    const fromBob = alice.received.filter((m) => m.sender.id === 'bob');
    expect(fromBob.map((m) => m.content)).toEqual([
      'before the block',
      'pm before the block',
      'after the unblock',
      'pm after the unblock',
    ]);
  });

  it('should let messages through again after user:unblock, a repeated block changing nothing', async () => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('user:block', { userId: 'bob' });
    await alice.ok('user:block', { userId: 'bob' });
    expectError(await bob.request('memo:send', { to: 'alice', content: 'no' }), 'FORBIDDEN');

    await alice.ok('user:unblock', { userId: 'bob' });

    const { message } = await bob.ok('private:message', { to: 'alice', content: 'yes' });
    await alice.waitFor(withId(message.id));
    const memo = await bob.ok('memo:send', { to: 'alice', content: 'yes, memo' });
    expect(memo.delivered).toBe(true);
    await alice.waitFor(withId(memo.message.id));
  });

  it('should leave room events untouched', async () => {
    const { alice, bob } = await den(h);
    await alice.ok('user:block', { userId: 'bob' });

    const bobs = await post(bob, 'still here'); // seq 3
    const alices = await post(alice, 'hi'); // seq 4
    const reaction = await react(bob, alices.seq, '👋'); // seq 5
    const { message: edit } = await bob.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'still here!',
    }); // seq 6

    for (const m of [bobs, reaction, edit]) await alice.waitFor(withId(m.id));
    await alice.ok('room:read', { roomId: 'den', seq: 6 });
    expect((await alice.ok('room:history', { roomId: 'den' })).messages).toHaveLength(6);
  });
});

// ---- the send rate ---------------------------------------------------------------------

describe('v2 events and the send rate', () => {
  const h = useApp({ RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_SECOND: '1' });

  it('should answer RATE_LIMITED to every new event but room:read once the bucket is empty, after INVALID_PAYLOAD and TOO_LARGE, before NOT_FOUND', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' }); // seq 1
    await post(alice, 'the one token', 'general'); // seq 2

    const replies = {
      edit: await alice.request('room:edit', { roomId: 'general', seq: 2, content: 'x' }),
      editUnknownRoom: await alice.request('room:edit', {
        roomId: 'nowhere',
        seq: 2,
        content: 'x',
      }),
      delete: await alice.request('room:delete', { roomId: 'general', seq: 2 }),
      deleteUnknownSeq: await alice.request('room:delete', { roomId: 'general', seq: 99 }),
      react: await alice.request('room:react', { roomId: 'general', seq: 2, emoji: '👍' }),
      block: await alice.request('user:block', { userId: 'bob' }),
      unblock: await alice.request('user:unblock', { userId: 'bob' }),
      blocks: await alice.request('user:blocks'),
      read: await alice.request('room:read', { roomId: 'general', seq: 2 }),
      invalidEdit: await alice.request('room:edit', { roomId: 'general', seq: 0, content: 'x' }),
      tooLargeEdit: await alice.request('room:edit', {
        roomId: 'general',
        seq: 2,
        content: 'x'.repeat(2001),
      }),
      invalidEmoji: await alice.request('room:react', { roomId: 'general', seq: 2, emoji: ' ' }),
      blockSelf: await alice.request('user:block', { userId: 'alice' }),
    };

    expect(Object.fromEntries(Object.entries(replies).map(([k, r]) => [k, codeOf(r)]))).toEqual({
      edit: 'RATE_LIMITED',
      editUnknownRoom: 'RATE_LIMITED',
      delete: 'RATE_LIMITED',
      deleteUnknownSeq: 'RATE_LIMITED',
      react: 'RATE_LIMITED',
      block: 'RATE_LIMITED',
      unblock: 'RATE_LIMITED',
      blocks: 'RATE_LIMITED',
      read: 'ok',
      invalidEdit: 'INVALID_PAYLOAD',
      tooLargeEdit: 'TOO_LARGE',
      invalidEmoji: 'INVALID_PAYLOAD',
      blockSelf: 'INVALID_PAYLOAD',
    });
  });
});

describe('v2 events and the send rate, with a burst of two', () => {
  const h = useApp({ RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_SECOND: '1' });

  it.each([
    ['room:react', { roomId: 'den', seq: 3, emoji: '👍' }],
    ['room:edit', { roomId: 'den', seq: 3, content: 'edited' }],
    ['room:delete', { roomId: 'den', seq: 3 }],
    ['user:block', { userId: 'bob' }],
    ['user:unblock', { userId: 'bob' }],
    ['user:blocks', undefined],
  ] as const)('should take a send token for %s', async (event, payload) => {
    const { alice } = await den(h);
    await post(alice, 'the first token'); // seq 3

    const second = await alice.request(event, payload);
    const third = await alice.request('memo:send', { to: 'bob', content: 'one too many' });

    expect(codeOf(second)).toBe('ok');
    expectError(third, 'RATE_LIMITED');
  });
});

// ---- moderation ------------------------------------------------------------------------

describe('moderated members (room:kick, room:mute)', () => {
  const h = useApp();

  it('should treat a kicked user as a non-member: NOT_MEMBER for its own message and room:read', async () => {
    const { alice, bob } = await den(h);
    const bobs = await post(bob, 'before the kick'); // seq 3
    await alice.ok('room:kick', { roomId: 'den', userId: 'bob' }); // seq 4
    await alice.waitFor(leaveOf('den', 'bob'));

    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: bobs.seq, content: 'x' }),
      'NOT_MEMBER',
    );
    expectError(await bob.request('room:delete', { roomId: 'den', seq: bobs.seq }), 'NOT_MEMBER');
    expectError(
      await bob.request('room:react', { roomId: 'den', seq: bobs.seq, emoji: '👍' }),
      'NOT_MEMBER',
    );
    expectError(await bob.request('room:read', { roomId: 'den', seq: 3 }), 'NOT_MEMBER');
    const marker = await roomMarker(alice, 'den', [alice]);
    expect(marker.seq).toBe(5);
  });

  it('should get FORBIDDEN for room:edit and room:react, and still delete its own messages and mark read', async () => {
    const { alice, bob } = await den(h);
    const bobs = await post(bob, 'before the mute'); // seq 3
    const alices = await post(alice, 'owner speaks'); // seq 4
    await alice.ok('room:mute', { roomId: 'den', userId: 'bob', seconds: 600 });
    await bob.waitFor((m) => m.type === 'room_notice' && m.content.includes('muted'));

    expectError(
      await bob.request('room:edit', { roomId: 'den', seq: bobs.seq, content: 'after' }),
      'FORBIDDEN',
    );
    expectError(
      await bob.request('room:react', { roomId: 'den', seq: alices.seq, emoji: '👍' }),
      'FORBIDDEN',
    );
    expectError(
      await bob.request('room:message', { roomId: 'den', content: 'let me talk' }),
      'FORBIDDEN',
    );
    expect(await bob.request('room:read', { roomId: 'den', seq: 4 })).toEqual({
      ok: true,
      lastRead: 4,
    });
    const { message } = await bob.ok('room:delete', { roomId: 'den', seq: bobs.seq as number });

    expect(message).toMatchObject({ type: 'room_delete', seq: 5, target: 3 });
    expect(await alice.waitFor(withId(message.id))).toEqual(message);
    expect(
      alice.received.filter((m) => m.type === 'room_edit' || m.type === 'room_reaction'),
    ).toEqual([]);
  });
});

// ---- the admin API ---------------------------------------------------------------------

describe('DELETE /api/rooms/:id/messages/:seq', () => {
  const h = useApp();

  it('should answer 204 and send every member a room_delete by system', async () => {
    const { alice, bob } = await den(h);
    const original = await post(bob, 'against the rules'); // seq 3
    await react(alice, 3, '👎'); // seq 4

    const res = await call(h.app, 'DELETE', '/api/rooms/den/messages/3');

    expect(res.status).toBe(204);
    const deletion = await alice.waitFor((m) => m.type === 'room_delete');
    expect(deletion).toMatchObject({
      type: 'room_delete',
      roomId: 'den',
      seq: 5,
      target: 3,
      sender: SYSTEM,
      content: '',
    });
    expect(deletion.id).toMatch(UUID);
    expectAbsent(deletion, 'emoji', 'on', 'user', ...STATE_FIELDS);
    expect(await bob.waitFor(withId(deletion.id))).toEqual(deletion);
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3)).toEqual({ ...original, content: '', deleted: true });
    expect(atSeq(messages, 5)).toEqual(deletion);
  });

  it.each(['0', '-1', 'abc', '1.5'])(
    'should answer 400 for the seq %s, before looking up the room',
    async (seq) => {
      const { alice } = await den(h);
      await post(alice, 'safe'); // seq 3

      expectErrorBody(await call(h.app, 'DELETE', `/api/rooms/den/messages/${seq}`), 400);
      expectErrorBody(await call(h.app, 'DELETE', `/api/rooms/nowhere/messages/${seq}`), 400);
      const { messages } = await alice.ok('room:history', { roomId: 'den' });
      expectAbsent(atSeq(messages, 3), 'deleted');
    },
  );

  it('should answer 404 for an unknown room, a seq that is no message, and a message already deleted', async () => {
    const { alice, bob } = await den(h);
    await post(alice, 'x'); // seq 3
    await react(bob, 3, '👍'); // seq 4

    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/nowhere/messages/3'), 404);
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/den/messages/1'), 404);
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/den/messages/4'), 404);
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/den/messages/99'), 404);
    expect((await call(h.app, 'DELETE', '/api/rooms/den/messages/3')).status).toBe(204);
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/den/messages/3'), 404);
    expectErrorBody(await call(h.app, 'DELETE', '/api/rooms/den/messages/5'), 404);

    const marker = await roomMarker(alice, 'den', [alice, bob]);
    expect(marker.seq).toBe(6);
    expect(bob.received.filter((m) => m.type === 'room_delete')).toHaveLength(1);
  });
});

// ---- v1 unchanged ----------------------------------------------------------------------

describe('v1 shapes next to v2', () => {
  const h = useApp();

  it('should keep live room_chat messages and the room:message ack free of state fields', async () => {
    const { alice, bob } = await den(h);
    const ack = await post(alice, 'plain'); // seq 3
    await react(bob, 3, '👍'); // seq 4
    await alice.ok('room:edit', { roomId: 'den', seq: 3, content: 'plain!' }); // seq 5

    const later = await post(alice, 'later'); // seq 6
    await bob.waitFor(withId(later.id));

    for (const message of [ack, later, ...bob.received.filter((m) => m.type === 'room_chat')]) {
      expectAbsent(message, ...STATE_FIELDS, ...TARGET_FIELDS);
    }
    expect(await bob.waitFor(withId(ack.id))).toEqual(ack);
    for (const join of bob.received.filter((m) => m.type === 'room_join')) {
      expectAbsent(join, ...STATE_FIELDS, ...TARGET_FIELDS);
    }
    const { messages } = await bob.ok('room:history', { roomId: 'den' });
    for (const system of messages.filter((m) => m.type === 'room_join')) {
      expectAbsent(system, ...STATE_FIELDS, ...TARGET_FIELDS);
    }
    expectAbsent(atSeq(messages, 6), ...STATE_FIELDS);
  });

  it('should take the identity from the socket, ignoring user fields in a v2 payload', async () => {
    const { alice, bob } = await den(h);
    const alices = await post(alice, "alice's"); // seq 3

    const reaction = await bob.request('room:react', {
      roomId: 'den',
      seq: 3,
      emoji: '👍',
      user: { id: 'alice', name: 'Alice' },
      sender: { id: 'alice', name: 'Alice' },
      userId: 'alice',
    });
    const edit = await bob.request('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'as alice?',
      sender: { id: 'alice', name: 'Alice' },
    });

    expect(data(reaction).message).toMatchObject({
      user: { id: 'bob', name: 'Bob' },
      sender: { id: 'bob', name: 'Bob' },
    });
    expectError(edit, 'FORBIDDEN');
    const { messages } = await alice.ok('room:history', { roomId: 'den' });
    expect(atSeq(messages, 3)).toEqual({ ...alices, reactions: { '👍': 1 } });
  });

  it.each(['room:pin', 'room:unreact', 'user:mute', 'room:reactions', 'read'])(
    'should still answer the unknown event %s with INVALID_PAYLOAD',
    async (event) => {
      const alice = await h.clients.as('alice');

      expectError(await rawRequest(alice, event, { roomId: 'general', seq: 1 }), 'INVALID_PAYLOAD');
      expect((await alice.ok('user:list')).users).toHaveLength(1);
    },
  );

  it('should report a failing v2 event sent without an ack as chat:error', async () => {
    const { alice } = await den(h);

    raw(alice).emit('room:edit', { roomId: 'den', seq: 0, content: 'x' });
    raw(alice).emit('room:read', { roomId: 'nowhere', seq: 1 });
    raw(alice).emit('room:react', { roomId: 'den', seq: 99, emoji: '👍' });

    const invalid = await alice.waitForEvent('chat:error', (e) => e.event === 'room:edit');
    const unknownRoom = await alice.waitForEvent('chat:error', (e) => e.event === 'room:read');
    const unknownSeq = await alice.waitForEvent('chat:error', (e) => e.event === 'room:react');
    expect(invalid).toEqual({
      event: 'room:edit',
      code: 'INVALID_PAYLOAD',
      message: expect.any(String),
    });
    expect(unknownRoom).toMatchObject({ code: 'NOT_FOUND' });
    expect(unknownSeq).toMatchObject({ code: 'NOT_FOUND' });
  });
});

// ---- restarts --------------------------------------------------------------------------

describe('v2 state across a restart (SQLite)', () => {
  let dataDir: string | undefined;
  let app: RunningApp | undefined;
  let clients: Clients | undefined;

  afterEach(async () => {
    clients?.closeAll();
    await app?.close();
    app = undefined;
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  async function boot(env: Record<string, string>): Promise<Clients> {
    app = await startApp(env);
    const url = app.url;
    clients = new Clients(() => url);
    return clients;
  }

  it('should keep edits, deletions, reactions, read marks, blocks and edit clientMsgIds', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-v2-'));
    const env = { STORE: 'sqlite', DATA_DIR: dataDir, SQLITE_SYNCHRONOUS: 'normal' };
    let c = await boot(env);
    let alice = await c.as('alice', 'Alice');
    let bob = await c.as('bob', 'Bob');
    await alice.ok('room:create', { roomId: 'den' }); // seq 1
    await bob.ok('room:join', { roomId: 'den' }); // seq 2
    const a = await post(alice, 'a'); // seq 3
    const b = await post(alice, 'b'); // seq 4
    const own = await post(bob, 'c'); // seq 5
    const { message: edit } = await alice.ok('room:edit', {
      roomId: 'den',
      seq: 3,
      content: 'a!',
      clientMsgId: 'dur-1',
    }); // seq 6
    await react(bob, 3, '👍'); // seq 7
    await react(alice, 5, '🎉'); // seq 8
    await alice.ok('room:edit', { roomId: 'den', seq: 4, content: 'b!' }); // seq 9
    await alice.ok('room:delete', { roomId: 'den', seq: 4 }); // seq 10
    await bob.ok('room:read', { roomId: 'den', seq: 6 });
    await post(alice, 'd'); // seq 11
    await alice.ok('user:block', { userId: 'bob' });
    const before = await bob.ok('room:history', { roomId: 'den' });
    c.closeAll();
    await app?.close();

    c = await boot(env);
    alice = await c.as('alice', 'Alice');
    bob = await c.as('bob', 'Bob');
    const atAlice = await alice.ok('room:join', { roomId: 'den', since: 0 });
    const atBob = await bob.ok('room:join', { roomId: 'den' });

    for (const seq of [1, 2, 6, 7, 8, 9, 10, 11]) {
      expect(atSeq(atBob.messages, seq)).toEqual(atSeq(before.messages, seq));
    }
    expect(atSeq(atBob.messages, 3)).toEqual({
      ...a,
      content: 'a!',
      edited: true,
      editedAt: edit.timestamp,
      reactions: { '👍': 1 },
      myReactions: ['👍'],
    });
    expect(atSeq(atBob.messages, 4)).toEqual({ ...b, content: '', deleted: true });
    expect(atSeq(atBob.messages, 5)).toEqual({ ...own, reactions: { '🎉': 1 } });
    expect(atSeq(atAlice.messages, 5)).toEqual({
      ...own,
      reactions: { '🎉': 1 },
      myReactions: ['🎉'],
    });
    expect(atBob).toMatchObject({ lastRead: 6, unread: 1 });
    expect(await alice.request('user:blocks')).toEqual({ ok: true, users: ['bob'] });
    expectError(await bob.request('memo:send', { to: 'alice', content: 'hi' }), 'FORBIDDEN');
    expect(
      await alice.request('room:edit', {
        roomId: 'den',
        seq: 3,
        content: 'again',
        clientMsgId: 'dur-1',
      }),
    ).toEqual({ ok: true, message: edit });
    // The states read back decide the next events.
    expect(await bob.request('room:react', { roomId: 'den', seq: 3, emoji: '👍' })).toEqual({
      ok: true,
    });
    expectError(
      await bob.request('room:react', { roomId: 'den', seq: 4, emoji: '👍' }),
      'NOT_FOUND',
    );
    expect(await bob.request('room:read', { roomId: 'den', seq: 2 })).toEqual({
      ok: true,
      lastRead: 6,
    });
  });
});

/**
 * The text rules of a message's `content` (docs/PROTOCOL.md, "Text rules"): kept exactly as
 * sent, whitespace-only, control characters and lone surrogates refused, lengths counted in
 * code points up to MAX_MESSAGE_LENGTH. Sent as room:message unless a test says otherwise.
 */
import { describe, expect, it } from '@jest/globals';
import { data, expectError, useApp, withId } from '../support/e2e.js';

describe('message content', () => {
  const h = useApp();

  it.each([
    ['leading and trailing spaces', '   padded both sides   '],
    ['Korean', '철수 안녕하세요'],
    ['emoji sequences', 'family 👨‍👩‍👧‍👦, flag 🇰🇷, skin 👋🏽'],
    ['tab, newline and carriage return', '\tline one\nline two\r\nend\r'],
    ['markup-like text', '<b>bold</b> &amp; <script>alert("x")</script>'],
    ['combining marks', 'e\u0301 a\u0308'],
    ['a leading no-break space', '\u00a0nbsp'],
    ['a single character', 'x'],
  ])('should keep content with %s exactly as sent', async (_label, content) => {
    const alice = await h.clients.as('alice');
    const bob = await h.clients.as('bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });

    const { message } = await alice.ok('room:message', { roomId: 'general', content });

    expect(message.content).toBe(content);
    expect((await bob.waitFor(withId(message.id))).content).toBe(content);
    const { messages } = await bob.ok('room:history', { roomId: 'general' });
    expect(messages.at(-1)?.content).toBe(content);
  });

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['mixed whitespace', ' \t\n\r '],
    ['an ideographic space', '\u3000'],
    ['a byte order mark', '\uFEFF'],
    ['a no-break space', '\u00a0'],
    ['a line separator', '\u2028'],
  ])('should refuse %s content with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:message', { roomId: 'general', content }),
      'INVALID_PAYLOAD',
    );
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['only NUL', '\u0000'],
    ['a bell', 'ring \u0007'],
    ['an escape sequence', '\u001b[31mred'],
    ['a vertical tab', 'a\u000bb'],
    ['a form feed', 'a\u000cb'],
    ['a DEL', 'a\u007f'],
    ['a C1 control (NEL)', 'a\u0085b'],
    ['a C1 control (APC)', 'a\u009fb'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a trailing high surrogate', 'smile \ud83d'],
    ['a leading low surrogate', '\ude00 smile'],
    ['reversed surrogates', '\ude00\ud83d'],
  ])('should refuse content with %s with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    expectError(
      await alice.request('room:message', { roomId: 'general', content }),
      'INVALID_PAYLOAD',
    );
  });

  it.each([
    ['a number', 42],
    ['a boolean', true],
    ['an object', { text: 'hi' }],
    ['an array', ['hi']],
    ['null', null],
    ['absent', undefined],
  ])('should refuse content that is %s with INVALID_PAYLOAD', async (_label, content) => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const payload: Record<string, unknown> = { roomId: 'general' };
    if (content !== undefined) payload.content = content;

    expectError(await alice.request('room:message', payload), 'INVALID_PAYLOAD');
  });

  it('should count code points: 2000 emoji are accepted, 2001 code points are TOO_LARGE', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const maxEmoji = '😀'.repeat(2000);
    const maxKorean = '철'.repeat(2000);

    const emoji = await alice.request('room:message', { roomId: 'general', content: maxEmoji });
    const korean = await alice.request('room:message', { roomId: 'general', content: maxKorean });

    expect(data(emoji).message.content).toBe(maxEmoji);
    expect(data(korean).message.content).toBe(maxKorean);
    for (const content of ['a'.repeat(2001), '😀'.repeat(2001), '😀'.repeat(2000) + 'a']) {
      expectError(await alice.request('room:message', { roomId: 'general', content }), 'TOO_LARGE');
    }
  });

  it('should refuse a far too long message with TOO_LARGE and keep the connection', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:join', { roomId: 'general' });

    const reply = await alice.request('room:message', {
      roomId: 'general',
      content: 'x'.repeat(50_000),
    });

    expectError(reply, 'TOO_LARGE');
    expect(alice.socket.connected).toBe(true);
    await alice.ok('room:message', { roomId: 'general', content: 'still here' });
  });

  describe('with MAX_MESSAGE_LENGTH configured', () => {
    const small = useApp({ MAX_MESSAGE_LENGTH: '10' });

    it('should accept exactly the maximum in code points and refuse one more', async () => {
      const alice = await small.clients.as('alice');
      const bob = await small.clients.as('bob');
      await alice.ok('room:join', { roomId: 'general' });
      const family = '👨‍👩‍👧'; // 5 code points, 8 UTF-16 units

      const ten = await alice.request('room:message', { roomId: 'general', content: '0123456789' });
      const twoFamilies = await alice.request('room:message', {
        roomId: 'general',
        content: family + family,
      });

      expect(data(ten).message.content).toBe('0123456789');
      expect(data(twoFamilies).message.content).toBe(family + family);
      expectError(
        await alice.request('room:message', { roomId: 'general', content: '01234567890' }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('room:message', { roomId: 'general', content: family + family + '!' }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('private:message', { to: 'bob', content: '😀'.repeat(11) }),
        'TOO_LARGE',
      );
      expectError(
        await alice.request('memo:send', { to: 'bob', content: '😀'.repeat(11) }),
        'TOO_LARGE',
      );
      await alice.ok('private:message', { to: 'bob', content: '😀'.repeat(10) });
      await bob.waitFor((m) => m.type === 'private_chat');
    });
  });
});

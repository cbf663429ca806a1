import { describe, expect, it } from '@jest/globals';
import { PAYLOAD_PARSERS } from './chat.schemas.js';

const limits = { maxMessageLength: 5 };

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('PAYLOAD_PARSERS', () => {
  const message = (payload: unknown) => PAYLOAD_PARSERS['room:message'](payload, limits);

  it('should keep content exactly as sent, spaces and all', () => {
    expect(message({ roomId: 'general', content: ' h\t\n' })).toEqual({
      roomId: 'general',
      content: ' h\t\n',
    });
  });

  it.each([
    ['not an object', 'hello'],
    ['an array', [{ roomId: 'general', content: 'x' }]],
    ['null', null],
    ['a missing roomId', { content: 'x' }],
    ['a bad room id', { roomId: 'no spaces', content: 'x' }],
    ['whitespace-only content', { roomId: 'g', content: ' \u3000\t' }],
    ['a NUL', { roomId: 'g', content: 'a\u0000b' }],
    ['a C1 control', { roomId: 'g', content: 'a\u0085b' }],
    ['a lone surrogate', { roomId: 'g', content: 'a\ud800b' }],
    ['null for an optional field', { roomId: 'g', content: 'x', clientMsgId: null }],
    ['a bad clientMsgId', { roomId: 'g', content: 'x', clientMsgId: 'a b' }],
  ])('should answer INVALID_PAYLOAD for %s', (_case, payload) => {
    expect(codeOf(() => message(payload))).toBe('INVALID_PAYLOAD');
  });

  it('should count code points: five emoji fit a limit of five, six do not', () => {
    expect(codeOf(() => message({ roomId: 'g', content: '😀😀😀😀😀' }))).toBeUndefined();
    expect(codeOf(() => message({ roomId: 'g', content: '😀😀😀😀😀😀' }))).toBe('TOO_LARGE');
  });

  it('should rank INVALID_PAYLOAD above TOO_LARGE', () => {
    expect(codeOf(() => message({ roomId: 'g', content: 'far too long', clientMsgId: '' }))).toBe(
      'INVALID_PAYLOAD',
    );
    expect(codeOf(() => message({ roomId: 'g', content: 'far too long\u0000' }))).toBe(
      'INVALID_PAYLOAD',
    );
  });

  it('should ignore fields it does not know, such as a claimed sender', () => {
    expect(message({ roomId: 'g', content: 'hi', sender: { id: 'mallory' }, userId: 'x' })).toEqual(
      {
        roomId: 'g',
        content: 'hi',
      },
    );
  });

  it('should cut a history limit above 200 to 200 and refuse one below 1', () => {
    const history = PAYLOAD_PARSERS['room:history'];
    expect(history({ roomId: 'g', limit: 500 }, limits)).toEqual({ roomId: 'g', limit: 200 });
    expect(codeOf(() => history({ roomId: 'g', limit: 0 }, limits))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => history({ roomId: 'g', before: -1 }, limits))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => history({ roomId: 'g', before: 1.5 }, limits))).toBe('INVALID_PAYLOAD');
  });

  it('should take room:list with no payload or an empty object', () => {
    expect(PAYLOAD_PARSERS['room:list'](undefined, limits)).toBeUndefined();
    expect(PAYLOAD_PARSERS['room:list']({}, limits)).toBeUndefined();
    expect(codeOf(() => PAYLOAD_PARSERS['room:list']('x', limits))).toBe('INVALID_PAYLOAD');
  });

  it('should refuse the reserved user id as a recipient', () => {
    const memo = PAYLOAD_PARSERS['memo:send'];
    expect(codeOf(() => memo({ to: 'system', content: 'hi' }, limits))).toBe('INVALID_PAYLOAD');
  });
});

/**
 * The shape of every message type (docs/PROTOCOL.md, "Messages"): the fields the contract
 * gives each type, and none of the others.
 */
import { describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import {
  connectOf,
  disconnectOf,
  expectAbsent,
  ISO_UTC,
  joinOf,
  leaveOf,
  SYSTEM,
  useApp,
  UUID,
} from '../support/e2e.js';

describe('message shape', () => {
  const h = useApp();

  function expectCommon(message: ChatMessage): void {
    expect(message.id).toMatch(UUID);
    expect(message.timestamp).toMatch(ISO_UTC);
    expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp);
    expect(typeof message.content).toBe('string');
  }

  it('should give every message type the fields of the contract and omit the others', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    await alice.ok('room:join', { roomId: 'general' });
    await bob.ok('room:join', { roomId: 'general' });
    await alice.ok('room:message', { roomId: 'general', content: 'chat' });
    await alice.ok('private:message', { to: 'bob', content: 'pm' });
    await alice.ok('memo:send', { to: 'bob', content: 'memo' });
    await bob.ok('room:leave', { roomId: 'general' });

    const connect = await alice.waitFor(connectOf('bob'));
    const join = await alice.waitFor(joinOf('general', 'bob'));
    const chat = await bob.waitFor((m) => m.type === 'room_chat');
    const pm = await bob.waitFor((m) => m.type === 'private_chat');
    const memo = await bob.waitFor((m) => m.type === 'instant_message');
    const leave = await alice.waitFor(leaveOf('general', 'bob'));
    bob.close();
    const disconnect = await alice.waitFor(disconnectOf('bob'));

    for (const m of [connect, join, chat, pm, memo, leave, disconnect]) expectCommon(m);
    expect(connect).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(connect.content).toContain('Bob');
    expectAbsent(connect, 'roomId', 'seq', 'recipient');
    expect(join).toMatchObject({
      sender: SYSTEM,
      roomId: 'general',
      seq: 2,
      user: { id: 'bob', name: 'Bob' },
    });
    expectAbsent(join, 'recipient');
    expect(chat).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      roomId: 'general',
      seq: 3,
    });
    expectAbsent(chat, 'recipient', 'user');
    expect(pm).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: 'pm',
    });
    expectAbsent(pm, 'roomId', 'seq', 'user');
    expect(memo).toMatchObject({
      sender: { id: 'alice', name: 'Alice' },
      recipient: { id: 'bob', name: 'Bob' },
      content: 'memo',
    });
    expectAbsent(memo, 'roomId', 'seq', 'user');
    expect(leave).toMatchObject({
      sender: SYSTEM,
      roomId: 'general',
      seq: 4,
      user: { id: 'bob', name: 'Bob' },
    });
    expect(leave.content).toContain('Bob');
    expectAbsent(leave, 'recipient');
    expect(disconnect).toMatchObject({ sender: SYSTEM, user: { id: 'bob', name: 'Bob' } });
    expect(disconnect.content).toContain('Bob');
    expectAbsent(disconnect, 'roomId', 'seq', 'recipient');
  });
});

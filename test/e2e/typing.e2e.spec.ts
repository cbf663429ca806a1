/**
 * Typing notices (docs/PROTOCOL.md, "Client events", `typing`): to the other members of the
 * room only, never to the sender.
 */
import { describe, expect, it } from '@jest/globals';
import { expectError, roomMarker, useApp } from '../support/e2e.js';

describe('typing', () => {
  const h = useApp();

  it('should send typing to the other members and not to the sender', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const bob = await h.clients.as('bob', 'Bob');
    const carol = await h.clients.as('carol', 'Carol');
    for (const c of [alice, bob, carol]) await c.ok('room:join', { roomId: 'general' });

    const reply = await alice.request('typing', { roomId: 'general' });

    expect(reply).toEqual({ ok: true });
    const expected = { roomId: 'general', user: { id: 'alice', name: 'Alice' } };
    expect(await bob.waitForEvent('typing')).toEqual(expected);
    expect(await carol.waitForEvent('typing')).toEqual(expected);
    await bob.ok('typing', { roomId: 'general' });
    await alice.waitForEvent('typing', (e) => e.user.id === 'bob');
    expect(alice.events('typing').filter((e) => e.user.id === 'alice')).toHaveLength(0);
  });

  it('should not send typing to users outside the room', async () => {
    const alice = await h.clients.as('alice', 'Alice');
    const dave = await h.clients.as('dave', 'Dave');
    await alice.ok('room:join', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });

    await dave.ok('room:join', { roomId: 'general' });
    await alice.ok('typing', { roomId: 'general' });

    await dave.waitForEvent('typing');
    await roomMarker(alice, 'general', [dave]);
    expect(dave.events('typing')).toEqual([
      { roomId: 'general', user: { id: 'alice', name: 'Alice' } },
    ]);
  });

  it('should answer NOT_MEMBER outside the room and NOT_FOUND for an unknown room', async () => {
    const alice = await h.clients.as('alice');
    await alice.ok('room:create', { roomId: 'vault', private: true });
    const bob = await h.clients.as('bob');

    expectError(await bob.request('typing', { roomId: 'general' }), 'NOT_MEMBER');
    expectError(await bob.request('typing', { roomId: 'vault' }), 'NOT_MEMBER');
    expectError(await bob.request('typing', { roomId: 'nowhere' }), 'NOT_FOUND');
    expectError(await bob.request('typing', {}), 'INVALID_PAYLOAD');
  });
});

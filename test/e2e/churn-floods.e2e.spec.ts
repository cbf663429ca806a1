/**
 * No input disturbs other users: one user churning through joins and leaves, or flooding a
 * room with invitations, is stopped by a rate of its own long before the room's history is
 * flushed, while the other members' messages stay. Runs the service as a process.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';

describe('churn and floods', () => {
  let server: ServerProcess | undefined;
  const clients = new Clients(() => server?.url ?? '');

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
  });

  it('should store at most ~35 events of 200 join/leave pairs before RATE_LIMITED, and keep the others’ history', async () => {
    // A short history, so that an unthrottled churn would push everyone else's out of it.
    server = new ServerProcess({
      STORE: 'memory',
      HISTORY_MAX_PER_ROOM: '100',
      // The README's production values.
      ACTIVITY_RATE_BURST: '30',
      ACTIVITY_RATE_PER_SECOND: '3',
    });
    await server.start();
    const alice = await clients.as('alice');
    const carol = await clients.as('carol');
    const mallory = await clients.as('mallory');
    for (const member of [alice, carol]) await member.ok('room:join', { roomId: 'general' });
    const said: ChatMessage[] = [];
    for (let i = 0; i < 20; i++) {
      const speaker = i % 2 === 0 ? alice : carol;
      said.push(
        (await speaker.ok('room:message', { roomId: 'general', content: `keep ${i}` })).message,
      );
    }
    const codes = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      for (const event of ['room:join', 'room:leave'] as const) {
        const reply = await mallory.request(event, { roomId: 'general' });
        const code = reply.ok ? 'ok' : reply.error.code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    // Once out of tokens every join is refused (and the leave after it, changing nothing, is free).
    expect(codes.get('RATE_LIMITED')).toBeGreaterThan(150);
    expect([...codes.keys()].sort()).toEqual(['RATE_LIMITED', 'ok']);
    const { messages } = await alice.ok('room:history', { roomId: 'general', limit: 200 });
    const churn = messages.filter((m) => m.user?.id === 'mallory');
    expect(churn.length).toBeGreaterThan(0);
    expect(churn.length).toBeLessThanOrEqual(35);
    const kept = new Set(messages.map((m) => m.id));
    expect(said.filter((m) => !kept.has(m.id))).toEqual([]);
    // The message burst is a bucket of its own: mallory may still send.
    await expect(mallory.ok('memo:send', { to: 'alice', content: 'sorry' })).resolves.toBeDefined();
  }, 60_000);

  it('should stop an invitation flood at RATE_LIMITED, and cap invitations per room', async () => {
    server = new ServerProcess({
      STORE: 'memory',
      ACTIVITY_RATE_BURST: '100000',
      ACTIVITY_RATE_PER_SECOND: '100000',
      MAX_INVITES_PER_ROOM: '50',
    });
    await server.start();
    const owner = await clients.as('owner');
    await owner.ok('room:create', { roomId: 'club', private: true });
    const codes: string[] = [];
    for (let i = 0; i < 60; i++) {
      const reply = await owner.request('room:invite', { roomId: 'club', userId: `guest${i}` });
      codes.push(reply.ok ? 'ok' : reply.error.code);
    }
    expect(codes.filter((c) => c === 'ok')).toHaveLength(50);
    expect(codes.slice(50)).toEqual(Array(10).fill('FORBIDDEN'));
    // An invitee still gets in; one past the cap does not.
    const guest = await clients.as('guest3');
    await expect(guest.ok('room:join', { roomId: 'club' })).resolves.toBeDefined();
    const late = await clients.as('guest55');
    expect(await late.request('room:join', { roomId: 'club' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it('should answer RATE_LIMITED past the default activity burst of invitations', async () => {
    server = new ServerProcess({ STORE: 'memory' });
    await server.start();
    const owner = await clients.as('owner');
    await owner.ok('room:create', { roomId: 'club', private: true });
    const codes: string[] = [];
    for (let i = 0; i < 200; i++) {
      const reply = await owner.request('room:invite', { roomId: 'club', userId: `guest${i}` });
      codes.push(reply.ok ? 'ok' : reply.error.code);
    }
    const ok = codes.filter((c) => c === 'ok').length;
    // The burst of 100 (room:create took one) and a few refilled at 5 a second.
    expect(ok).toBeGreaterThanOrEqual(99);
    expect(ok).toBeLessThan(130);
    expect(codes.filter((c) => c !== 'ok').every((c) => c === 'RATE_LIMITED')).toBe(true);
    // Sending messages is a bucket of its own: still open.
    await expect(
      owner.ok('room:message', { roomId: 'club', content: 'hi' }),
    ).resolves.toBeDefined();
  });
});

/**
 * A recovering client always makes progress: a client that was away while 1,000 large
 * messages arrived joins with `since: 0` through a slow link. Replies come in pages bounded in
 * bytes (`more: true`), and what the client asked for never counts against it as a slow
 * consumer's backlog does.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** About 8 KB of UTF-8: 2,000 code points, most of 4 bytes. */
const large = (i: number): string => `${i} ${'🎲'.repeat(2000 - String(i).length - 1)}`;

describe('recovery of a large backlog by a slow reader', () => {
  let dataDir = '';
  let server: ServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const direct = new Clients(() => server?.url ?? '');
  const slow = new Clients(() => proxy?.url ?? '');

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-recovery-'));
    server = new ServerProcess({
      STORE: 'sqlite',
      DATA_DIR: dataDir,
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
      // The smallest cap: a single recovery page is several times larger, yet it is owed.
      MAX_OUTBOUND_BUFFER_BYTES: '65536',
    });
    await server.start();
    proxy = await new TcpProxy().start(server.url);
  });

  afterEach(async () => {
    direct.closeAll();
    slow.closeAll();
    await proxy?.close();
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should bring 1,000 messages of ~8 KB in byte-bounded pages, without cutting the reader off', async () => {
    const alice = await direct.as('alice');
    await alice.ok('room:join', { roomId: 'general' });
    const posts: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) {
      posts.push(alice.ok('room:message', { roomId: 'general', content: large(i) }));
      if (posts.length === 100) await Promise.all(posts.splice(0));
    }
    await Promise.all(posts);

    // 8 MB through a link of 512 KB/s for the first seconds: far past MAX_OUTBOUND_BUFFER_BYTES,
    // which cut such a reader off before its reply arrived, at every reconnect.
    proxy?.throttle(512 * 1024);
    setTimeout(() => proxy?.throttle(undefined), 3000).unref();
    const bob = await slow.as('bob');
    let cutOff = false;
    bob.socket.on('disconnect', () => (cutOff = true));
    const events: ChatMessage[] = [];
    let since = 0;
    let pages = 0;
    for (;;) {
      const reply = await bob.request('room:join', { roomId: 'general', since }, 60_000);
      if (!reply.ok) throw new Error(`room:join failed: ${reply.error.code}`);
      pages++;
      expect(reply.complete).toBe(true);
      events.push(...reply.messages);
      if (reply.more !== true) break;
      since = reply.messages.at(-1)?.seq as number;
    }
    expect(cutOff).toBe(false);
    expect(pages).toBeGreaterThan(10);
    // alice's join (1), her 1,000 messages (2..1001), bob's join (1002): each once, in order.
    expect(events.map((m) => m.seq)).toEqual(Array.from({ length: 1002 }, (_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'room_join', user: { id: 'bob' } });
  }, 120_000);
});

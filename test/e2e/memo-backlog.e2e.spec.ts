/**
 * A stored memo is a promise: it stays stored until the client has it. The service runs as a
 * real process on SQLite; memos pile up for an offline user, who then reads them slowly
 * (through a throttled proxy), goes away mid-way, or never acknowledges them (a v1 client).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients, type TestClient } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** A memo of the largest size the default limits allow: 2,000 code points, most of 4 bytes. */
function largest(tag: string): string {
  return `${tag} ${'😀'.repeat(2000 - tag.length - 1)}`;
}

describe('stored memos until the client has them', () => {
  let dataDir = '';
  let server: ServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const direct = new Clients(() => server?.url ?? '');
  const throughProxy = new Clients(() => proxy?.url ?? '');

  async function boot(env: Record<string, string> = {}): Promise<void> {
    server = new ServerProcess({
      STORE: 'sqlite',
      DATA_DIR: dataDir,
      // The senders flood on purpose.
      RATE_LIMIT_BURST: '100000',
      RATE_LIMIT_PER_SECOND: '100000',
      ...env,
    });
    await server.start();
    proxy = await new TcpProxy().start(server.url);
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-memos-'));
  });

  afterEach(async () => {
    direct.closeAll();
    throughProxy.closeAll();
    await proxy?.close();
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Sends `count` memos to `to` from `senders` users at once; every ack must say stored. */
  async function storeMemos(to: string, senders: number, count: number): Promise<Set<string>> {
    const ids = new Set<string>();
    await Promise.all(
      Array.from({ length: senders }, async (_, s) => {
        const sender = await direct.as(`sender${s}`);
        const mine = Math.ceil(count / senders);
        let next = 0;
        // 100 in flight per sender: well inside the 256 a connection may have waiting.
        await Promise.all(
          Array.from({ length: 100 }, async () => {
            while (next < mine) {
              const i = next++;
              const { message, delivered } = await sender.ok('memo:send', {
                to,
                content: largest(`${s}:${i}`),
              });
              expect(delivered).toBe(false);
              ids.add(message.id);
            }
          }),
        );
        sender.close();
      }),
    );
    return ids;
  }

  /** Resolves once `client` has received every memo id in `ids`. */
  async function receiveAll(client: TestClient, ids: Set<string>, timeoutMs: number) {
    const memos = (m: ChatMessage) => m.type === 'instant_message';
    const got = await client.waitForCount(memos, ids.size, timeoutMs);
    return new Set(got.map((m) => m.id));
  }

  it('should deliver 10,000 memos of the largest size to a reader that starts slowly, cutting it off never', async () => {
    await boot();
    const ids = await storeMemos('bob', 10, 10_000);
    expect(ids.size).toBe(10_000);
    // Bob reads at 256 KB/s for a few seconds (the old server cut such a reader off after
    // ~480 memos and deleted the rest), then at full speed.
    proxy?.throttle(256 * 1024);
    const bob = await throughProxy.as('bob');
    let cutOff = false;
    bob.socket.on('disconnect', () => (cutOff = true));
    setTimeout(() => proxy?.throttle(undefined), 4000).unref();
    const received = await receiveAll(bob, ids, 120_000);
    expect(cutOff).toBe(false);
    expect([...ids].filter((id) => !received.has(id))).toEqual([]);
    // Each arrived once: the client acknowledged every one as it came.
    const memos = bob.received.filter((m) => m.type === 'instant_message');
    expect(memos).toHaveLength(10_000);
    // Acknowledged memos are deleted: a marker memo sent now is the only one to come.
    bob.close();
    await expectOnlyNewMemos('bob');
  }, 180_000);

  it('should keep what a reader did not acknowledge when it goes away mid-way, and bring it on the next connect', async () => {
    await boot();
    const ids = await storeMemos('carol', 4, 400);
    proxy?.throttle(64 * 1024);
    const first = await throughProxy.as('carol');
    // A v1 client: it never acknowledges.
    first.acknowledgeMemos = false;
    await first.waitForCount((m) => m.type === 'instant_message', 20, 20_000);
    proxy?.cut();
    proxy?.throttle(undefined);
    const seenFirst = new Set(
      first.received.filter((m) => m.type === 'instant_message').map((m) => m.id),
    );
    expect(seenFirst.size).toBeLessThan(400);
    const second = await direct.as('carol');
    const seenSecond = await receiveAll(second, ids, 30_000);
    // At least once: everything comes again, what was seen before included.
    expect([...ids].filter((id) => !seenSecond.has(id))).toEqual([]);
    second.close();
    await expectOnlyNewMemos('carol');
  }, 90_000);

  it('should delete memos a client never acknowledges once its socket stayed connected for MEMO_CONFIRM_MS', async () => {
    await boot({ MEMO_CONFIRM_MS: '300' });
    const ids = await storeMemos('dave', 1, 20);
    const v1 = await direct.as('dave');
    v1.acknowledgeMemos = false;
    await receiveAll(v1, ids, 10_000);
    // Still connected well past MEMO_CONFIRM_MS: confirmed, so not delivered again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    v1.close();
    await expectOnlyNewMemos('dave');
  }, 30_000);

  /**
   * Sends one more memo to the (offline) user and connects it: memos come oldest first, so
   * if the new one is the first to arrive, nothing older was left stored.
   */
  async function expectOnlyNewMemos(userId: string): Promise<void> {
    const sender = await direct.as('marker-sender');
    const { message } = await sender.ok('memo:send', { to: userId, content: 'marker' });
    const again = await direct.as(userId);
    const first = await again.waitFor((m) => m.type === 'instant_message', 10_000);
    expect(first.id).toBe(message.id);
  }
});

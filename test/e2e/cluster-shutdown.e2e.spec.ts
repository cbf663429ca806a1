/**
 * A graceful stop of a room's owner while other instances keep sending to the room: the
 * owner drains and hands the room back without taking it again, exits with 0, and every
 * message acknowledged on the way is stored once.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import type { TestClient } from '../support/chat-app.js';
import { TestCluster } from '../support/cluster.js';
import { serviceAvailable } from '../support/services.js';

const servicesUp = (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
const describeCluster = servicesUp ? describe : describe.skip;

/** Sends message after message, each retried with its clientMsgId on BUSY, as clients do. */
class RetryingSender {
  /** The message acknowledged for each clientMsgId (every answer of its retries). */
  readonly acked = new Map<string, ChatMessage[]>();
  readonly refused: string[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(client: TestClient, roomId: string) {
    this.#done = (async () => {
      for (let i = 0; this.#running; i++) {
        const clientMsgId = `${roomId}-${i}`;
        for (;;) {
          const reply = await client.request(
            'room:message',
            { roomId, content: `tick ${i}`, clientMsgId },
            15_000,
          );
          if (reply.ok) {
            const { message } = reply as unknown as { message: ChatMessage };
            this.acked.set(clientMsgId, [...(this.acked.get(clientMsgId) ?? []), message]);
            break;
          }
          if (reply.error.code !== 'BUSY') {
            this.refused.push(reply.error.code);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

describeCluster('a graceful stop of an owner under traffic', () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  }, 30_000);

  it('should exit with 0, take no room back while stopping, and lose or repeat no acknowledged message', async () => {
    const c = (cluster = await new TestCluster({ env: { CLUSTER_LEASE_MS: '1500' } }).start());
    const owner = await c.clients[0].as('sd-own');
    const other = await c.clients[1].as('sd-oth');
    await owner.ok('room:create', { roomId: 'sd' }); // owned by the first instance
    await other.ok('room:join', { roomId: 'sd' });
    const senders = [new RetryingSender(other, 'sd'), new RetryingSender(other, 'sd')];
    const chats = (m: ChatMessage) => m.roomId === 'sd' && m.type === 'room_chat';
    await other.waitForCount(chats, 20);
    expect(await c.servers[0].stop('SIGTERM')).toBe(0);
    // The room goes on at the other instance.
    const seen = other.received.filter(chats).length;
    await other.waitForCount(chats, seen + 20, 10_000);
    for (const sender of senders) await sender.stop();

    const log = c.servers[0].log;
    expect(log.slice(log.indexOf('SIGTERM'))).not.toMatch(/taken over/);
    for (const sender of senders) expect(sender.refused).toEqual([]);
    // Each clientMsgId answered with one message, stored once.
    const stored = (await wholeHistory(other, 'sd')).filter((m) => m.type === 'room_chat');
    for (const sender of senders) {
      for (const answers of sender.acked.values()) {
        expect(new Set(answers.map((m) => m.id)).size).toBe(1);
        expect(stored.filter((m) => m.id === answers[0].id)).toHaveLength(1);
      }
    }
    expect(new Set(stored.map((m) => m.id)).size).toBe(stored.length);
  }, 40_000);
});

/** Every stored event of a room, read with since from the start, page by page. */
async function wholeHistory(reader: TestClient, roomId: string): Promise<ChatMessage[]> {
  const events: ChatMessage[] = [];
  for (let since = 0; ;) {
    const page = await reader.ok('room:join', { roomId, since });
    events.push(...page.messages);
    if (page.more !== true) return events;
    since = page.messages.at(-1)!.seq!;
  }
}

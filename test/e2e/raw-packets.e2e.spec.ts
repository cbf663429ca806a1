/**
 * Hostile input (issue #6, "Trust") below socket.io-client: socket.io and engine.io packets
 * written by hand onto the connection of a real service process (dist/), so that a crash
 * shows as an exit. docs/PROTOCOL.md, "Replies": "No input, however malformed, crashes the
 * process or disturbs other users": the process lives, a later event is answered or the
 * connection is dropped, and two bystanders in the same room still talk to each other.
 */
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Clients, disconnected, type TestClient } from '../support/chat-app.js';
import { connectOf, disconnectOf, HIGH_RATE, raw, roomMarker } from '../support/e2e.js';
import {
  ATTACKER,
  BYSTANDERS,
  expectContractReply,
  joinBystanders,
  ROOM,
} from '../support/hostile.js';
import { ServerProcess } from '../support/server-process.js';

/**
 * A hostile client need not use socket.io-client: these are packets written straight onto the
 * engine.io connection of a real service process (dist/), so that a crash shows as an exit.
 */
describe('raw socket.io packets at the real service process', () => {
  let server: ServerProcess | undefined;
  let url = '';
  const clients = new Clients(() => url);
  let bystanders: TestClient[] = [];

  async function boot(): Promise<void> {
    server = new ServerProcess({ STORE: 'memory', ...HIGH_RATE });
    url = await server.start();
    bystanders = await joinBystanders(clients);
  }

  async function disconnectedOrGone(client: TestClient): Promise<void> {
    if (client.socket.connected) await disconnected(client);
    expect(client.socket.connected).toBe(false);
  }

  /** The process is running, answers /health, and the bystanders still talk. */
  async function expectAlive(what: string): Promise<void> {
    const health = await fetch(`${url}/health`).then(
      (res) => res.status,
      (error: unknown) => `unreachable (${String(error)})`,
    );
    if (health !== 200) {
      throw new Error(`the service died after ${what}; its log ends:\n${server?.log.slice(-1500)}`);
    }
    const [a, b] = bystanders;
    await roomMarker(a, ROOM, [a, b]);
  }

  beforeEach(async () => {
    // A test that killed the service must not fail the next one too.
    const alive =
      url !== '' &&
      (await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ));
    if (!alive) {
      clients.closeAll();
      await server?.stop('SIGKILL');
      await boot();
    }
  });

  afterAll(async () => {
    clients.closeAll();
    await server?.stop();
  });

  it.each([
    ['an unterminated JSON array', '2["room:message",{'],
    ['an object instead of an array', '2{"roomId":"general"}'],
    ['an empty array', '2[]'],
    ['null as the event name', '2[null]'],
    ['an object as the event name', '2[{"event":"room:list"}]'],
    ['true as the event name', '2[true]'],
    ['an unknown packet type', '9["room:list"]'],
    ['a huge ack id', '2999999999999999999999999["user:list"]'],
    ['a negative ack id', '2-1["user:list"]'],
    ['an unknown namespace', '2/admin,["user:list"]'],
    ['a connect to another namespace', '0/admin,{}'],
    ['a stray ack', '30["x"]'],
    [
      'a binary event whose attachments never come',
      '51-["room:message",{"_placeholder":true,"num":0}]',
    ],
    ['a placeholder out of range', '51-["room:message",{"_placeholder":true,"num":7}]'],
    [
      'a placeholder named __proto__',
      '51-["room:message",{"_placeholder":true,"num":"__proto__"}]',
    ],
    ['a placeholder in a plain event', '2["room:message",{"_placeholder":true,"num":0}]'],
    ['an own __proto__ key', '2["room:message",{"__proto__":{"roomId":"general","content":"x"}}]'],
    ['100,000 levels of arrays', `2["room:message",${'['.repeat(100_000)}${']'.repeat(100_000)}]`],
    [
      '50,000 levels of objects',
      `2["room:message",${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]`,
    ],
    ['a namespace disconnect', '1'],
  ])('should live through %s', async (label, packet) => {
    const attacker = await clients.as(ATTACKER);
    const closed = disconnected(attacker, 10_000);

    (raw(attacker).io.engine as unknown as { write(data: string): void }).write(packet);
    // Either the server answers a later event on this connection (so it handled the packet) or
    // it dropped the connection: both are fine, a dead process is not.
    const outcome = await Promise.race([
      raw(attacker)
        .timeout(5000)
        .emitWithAck('user:list')
        .then(
          (reply: unknown) => ({ reply }),
          (error: unknown) => ({ error: String(error) }),
        ),
      closed.then((reason) => ({ closed: reason })),
    ]);

    if ('reply' in outcome) expect(outcome.reply).toMatchObject({ ok: true });
    // No answer is fine only because the connection is gone, never a hang on a live one.
    else await disconnectedOrGone(attacker);
    await expectAlive(label);
    attacker.close();
  });

  it('should answer a burst past the per-connection queue with BUSY, unknown events included', async () => {
    // Long-polling delivers a whole POST body at once: 300 events reach the gateway in one
    // turn, far past the 256 that may wait on a connection.
    const base = `${url}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const { sid } = JSON.parse(open.slice(1)) as { sid: string };
    const session = `${base}&sid=${sid}`;
    const post = (body: string) => fetch(session, { method: 'POST', body }).then((r) => r.text());
    expect(await post(`40${JSON.stringify({ userId: 'burst' })}`)).toBe('ok');
    const received: string[] = [];
    const poll = async (until: () => boolean): Promise<void> => {
      while (!until()) received.push(...(await (await fetch(session)).text()).split('\x1e'));
    };
    await poll(() => received.some((p) => p.startsWith('40')));

    const burst = Array.from({ length: 300 }, (_, i) =>
      i % 2 ? '42["no:such:event"]' : '42["user:list",1]',
    );
    expect(await post(burst.join('\x1e'))).toBe('ok');
    const errors = () => received.filter((p) => p.startsWith('42["chat:error"'));
    await poll(() => errors().length === 300);

    const codes = new Set(
      errors().map((p) => (JSON.parse(p.slice(2)) as [string, { code: string }])[1].code),
    );
    expect(codes).toContain('BUSY');
    expect([...codes].every((code) => code === 'BUSY' || code === 'INVALID_PAYLOAD')).toBe(true);
    await expectAlive('a burst of 300 events in one request');
    // Close the session (an engine.io close packet), and see its user go offline.
    const [a] = bystanders;
    expect(await post('1')).toBe('ok');
    await a.waitFor(disconnectOf('burst'));
  });

  it('should leave no ghost behind a namespace disconnect followed at once by more events', async () => {
    const [a] = bystanders;
    const attacker = await clients.as(ATTACKER);
    await a.waitFor(connectOf(ATTACKER));
    const ask = (event: string, value: unknown) =>
      raw(attacker)
        .timeout(3000)
        .emitWithAck(event, value)
        .catch((error: unknown) => String(error));

    (raw(attacker).io.engine as unknown as { write(data: string): void }).write('1');
    const replies = await Promise.all([
      ask('room:join', { roomId: ROOM }),
      ask('room:create', { roomId: 'ghost-room' }),
      ask('room:message', { roomId: ROOM, content: 'from beyond' }),
    ]);

    await a.waitFor(disconnectOf(ATTACKER));
    await expectAlive('a namespace disconnect');
    for (const reply of replies) {
      if (typeof reply === 'object') expectContractReply(reply, ATTACKER);
    }
    // Whatever was answered, the user ended offline and in no room.
    const snapshot = (await (await fetch(`${url}/api/snapshot`)).json()) as {
      users: Array<{ id: string }>;
      rooms: Array<{ id: string; members: string[] }>;
    };
    expect(snapshot.users.map((u) => u.id).sort()).toEqual([...BYSTANDERS].sort());
    for (const room of snapshot.rooms) expect(room.members).not.toContain(ATTACKER);
    expect((await a.ok('room:list')).rooms.find((r) => r.id === ROOM)?.members).toBe(2);
  });

  it.each([
    ['a number', 42],
    ['zero', 0],
  ])('should answer %s as the event name with INVALID_PAYLOAD and live', async (label, name) => {
    // socket.io's parser accepts a number where the event name goes: `2[42, ...]`.
    const attacker = await clients.as(ATTACKER);
    const emit = raw(attacker).emit as unknown as (...args: unknown[]) => void;
    const emitWithAck = raw(attacker).timeout(3000).emitWithAck as unknown as (
      ...args: unknown[]
    ) => Promise<unknown>;

    emit.call(raw(attacker), name, { roomId: ROOM });
    const reply = await emitWithAck
      .call(raw(attacker).timeout(3000), name, { roomId: ROOM })
      .catch((error: unknown) => `no reply: ${String(error)}`);

    await expectAlive(`${label} (${name}) as an event name`);
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    const errors = attacker.events('chat:error');
    expect(errors).toEqual([
      { event: expect.anything(), code: 'INVALID_PAYLOAD', message: expect.any(String) },
    ]);
    expect([name, String(name)]).toContain(errors[0].event); // the name as sent
  });
});

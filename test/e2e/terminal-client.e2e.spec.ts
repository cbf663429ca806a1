/**
 * The terminal client (scripts/client.ts), built and run as a child process against the
 * real app: commands typed on its stdin, its plain-text output awaited line by line, other
 * users played by socket.io clients. Reconnecting goes through a TCP proxy that can cut the
 * client's connection or keep it away while the room moves on.
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { Clients, startApp, type RunningApp } from '../support/chat-app.js';
import { ClientProcess } from '../support/client-process.js';
import { connectOf, disconnectOf, expectError, joinOf, leaveOf, useApp } from '../support/e2e.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const SECRET = 'terminal-e2e-secret-long-enough-for-hs256-0123';
const run = promisify(execFile);

// ---- helpers ---------------------------------------------------------------------------

/** Every terminal client and proxy a test starts, closed in afterEach. */
function useTerminals() {
  const processes: ClientProcess[] = [];
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  return {
    /** Starts the client (fast reconnects for the tests) without waiting for anything. */
    start(args: string[]): ClientProcess {
      const client = new ClientProcess(['--reconnect-delay', '50', ...args]);
      processes.push(client);
      return client;
    },
    /** Starts the client in open mode and waits until it is connected. */
    async connect(url: string, user = 'alice', name = '앨리스'): Promise<ClientProcess> {
      const client = this.start(['--url', url, '--user', user, '--name', name]);
      await client.waitFor(/^connected to /);
      return client;
    },
    async proxy(url: string): Promise<TcpProxy> {
      const proxy = new TcpProxy();
      proxies.push(proxy);
      return proxy.start(url);
    },
  };
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A printed message: its local time, then exactly `text`. */
function printed(text: string): RegExp {
  // A room message ends with its seq (and, from history, its state): ` #12 edited 👍2`.
  return new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${escape(text)}( #\\d+( \\S+)*)?$`);
}

/** A line that is exactly `text`, or starts with it. */
const exactly = (text: string): RegExp => new RegExp(`^${escape(text)}$`);
const startsWith = (text: string): RegExp => new RegExp(`^${escape(text)}`);

async function post(app: RunningApp, path: string, body?: object): Promise<number> {
  const res = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- commands --------------------------------------------------------------------------

describe('terminal client', () => {
  const h = useApp();
  const t = useTerminals();

  it('should join a room and say things another user sees', async () => {
    const bob = await h.clients.as('bob', '밥');
    await bob.ok('room:join', { roomId: 'general' });
    const alice = await t.connect(h.app.url);

    await alice.command('join general', exactly('joined #general: 2 members: 밥, 앨리스'));
    await bob.waitFor(joinOf('general', 'alice'));

    alice.send('say general 안녕하세요, 밥!');
    const said = await bob.waitFor((m) => m.content === '안녕하세요, 밥!');
    expect(said).toMatchObject({
      type: 'room_chat',
      roomId: 'general',
      sender: { id: 'alice', name: '앨리스' },
    });
    await alice.waitFor(printed('#general 앨리스: 안녕하세요, 밥!'));

    // Plain text goes to the current room: the last one joined.
    await alice.command('join dev', startsWith('joined #dev:'));
    await bob.ok('room:join', { roomId: 'dev' });
    alice.send('just some text');
    expect(await bob.waitFor((m) => m.content === 'just some text')).toMatchObject({
      roomId: 'dev',
    });
  });

  it('should print what others say, room notices, presence and typing', async () => {
    const alice = await t.connect(h.app.url);
    await alice.command('join general', startsWith('joined #general:'));

    const bob = await h.clients.as('bob', '밥');
    await alice.waitFor(printed('* 밥 connected'));
    await bob.ok('room:join', { roomId: 'general' });
    await alice.waitFor(printed('#general * 밥 joined general'));
    await bob.ok('room:message', { roomId: 'general', content: 'hello from bob' });
    await alice.waitFor(printed('#general 밥: hello from bob'));
    await bob.ok('typing', { roomId: 'general' });
    await alice.waitFor(exactly('#general 밥 is typing…'));
    expect(await post(h.app, '/api/rooms/general/notices', { content: 'restart at noon' })).toBe(
      204,
    );
    await alice.waitFor(printed('#general notice: restart at noon'));
    await bob.ok('room:leave', { roomId: 'general' });
    await alice.waitFor(printed('#general * 밥 left general'));
    bob.close();
    await alice.waitFor(printed('* 밥 disconnected'));
  });

  it('should send and receive private messages and memos', async () => {
    const bob = await h.clients.as('bob', '밥');
    // A memo left while alice is offline comes when she connects.
    expect(await bob.ok('memo:send', { to: 'alice', content: '기다릴게' })).toMatchObject({
      delivered: false,
    });
    const alice = await t.connect(h.app.url);
    await alice.waitFor(/^\d\d:\d\d:\d\d \[memo\] 밥 → \S+: 기다릴게$/);

    alice.send('pm bob 점심 먹었어?');
    expect(await bob.waitFor((m) => m.content === '점심 먹었어?')).toMatchObject({
      type: 'private_chat',
      sender: { id: 'alice', name: '앨리스' },
      recipient: { id: 'bob', name: '밥' },
    });
    await alice.waitFor(printed('[pm] 앨리스 → 밥: 점심 먹었어?'));
    await bob.ok('private:message', { to: 'alice', content: '아직' });
    await alice.waitFor(printed('[pm] 밥 → 앨리스: 아직'));

    alice.send('im bob 회의는 10시');
    expect(await bob.waitFor((m) => m.content === '회의는 10시')).toMatchObject({
      type: 'instant_message',
      sender: { id: 'alice', name: '앨리스' },
    });
    await alice.waitFor(printed('[memo] 앨리스 → 밥: 회의는 10시'));
    await bob.ok('memo:send', { to: 'alice', content: '알겠어' });
    await alice.waitFor(printed('[memo] 밥 → 앨리스: 알겠어'));

    await alice.command(
      'im carol 내일 봐요',
      exactly('memo kept for carol: delivered when they connect'),
    );
    await alice.command('pm carol hi', startsWith('error USER_OFFLINE: '));
  });

  it('should list rooms and users and show history', async () => {
    const bob = await h.clients.as('bob', '밥');
    await bob.ok('room:join', { roomId: 'dev' });
    for (const content of ['one', 'two', 'three']) {
      await bob.ok('room:message', { roomId: 'dev', content });
    }
    const alice = await t.connect(h.app.url);
    const joined = alice.mark();
    await alice.command('join dev', startsWith('joined #dev:'));
    // The join prints what the room said lately.
    await alice.waitFor(printed('#dev * 앨리스 joined dev'), { from: joined });
    expect(alice.matching(/ #dev 밥: (one|two|three) #\d+$/, joined)).toHaveLength(3);

    let from = alice.mark();
    alice.send('rooms');
    await alice.waitFor(exactly('rooms (3):'), { from });
    // Bob's three messages came before alice ever read the room.
    await alice.waitFor(/^ {2}#dev +2 members \(joined, 3 unread\)$/, { from });
    await alice.waitFor(/^ {2}#general +0 members$/, { from });
    await alice.waitFor(/^ {2}#game +0 members$/, { from });

    const users = await alice.command('users', startsWith('online (2): '));
    expect(users).toContain('alice (앨리스)');
    expect(users).toContain('bob (밥)');

    from = alice.mark();
    await alice.command('history dev 2', exactly('history of #dev: 2 events'));
    await alice.waitFor(printed('#dev * 앨리스 joined dev'), { from });
    expect(alice.stdout.slice(from)).toEqual([
      'history of #dev: 2 events',
      expect.stringMatching(printed('#dev 밥: three')),
      expect.stringMatching(printed('#dev * 앨리스 joined dev')),
    ]);
    await alice.command('history dev', exactly('history of #dev: 5 events'));
    await alice.command('history game', startsWith('error NOT_MEMBER: '));
    await alice.command('history dev lots', exactly('usage: history <room> [limit]'));
    await alice.command('history dev 0', startsWith('error INVALID_PAYLOAD: '));
  });

  it('should edit, delete, react, mark read and block from the command line', async () => {
    const bob = await h.clients.as('bob', '밥');
    const alice = await t.connect(h.app.url);
    await alice.command('join general', startsWith('joined #general:'));
    await bob.ok('room:join', { roomId: 'general' });
    alice.send('first try');
    const said = await bob.waitFor((m) => m.content === 'first try');
    const seq = said.seq as number;
    await alice.waitFor(printed(`#general 앨리스: first try #${seq}`));

    alice.send(`edit ${seq} second try`);
    expect(await bob.waitFor((m) => m.type === 'room_edit')).toMatchObject({
      target: seq,
      content: 'second try',
      sender: { id: 'alice' },
    });
    await alice.waitFor(printed(`#general 앨리스 edited #${seq}: second try`));
    alice.send(`react ${seq} 👍`);
    expect(await bob.waitFor((m) => m.type === 'room_reaction')).toMatchObject({
      target: seq,
      emoji: '👍',
      on: true,
    });
    await alice.command(`react ${seq} 👍`, exactly('you already reacted 👍'));
    alice.send(`del ${seq}`);
    expect(await bob.waitFor((m) => m.type === 'room_delete')).toMatchObject({ target: seq });
    await alice.command(`edit ${seq} third`, startsWith('error NOT_FOUND: '));
    await alice.command('edit x y', exactly('usage: edit <seq> <text>'));

    const last = await bob.ok('room:message', { roomId: 'general', content: 'read me' });
    await alice.waitFor(printed(`#general 밥: read me #${last.message.seq}`));
    await alice.command('read', exactly(`#general read up to #${last.message.seq}`));
    expect(await bob.waitForEvent('read')).toEqual({
      roomId: 'general',
      user: { id: 'alice', name: '앨리스' },
      seq: last.message.seq,
    });

    await alice.command('block bob', exactly('blocked bob'));
    await alice.command('blocks', exactly('blocked (1): bob'));
    expectError(await bob.request('private:message', { to: 'alice', content: 'hey' }), 'FORBIDDEN');
    await alice.command('unblock bob', exactly('unblocked bob'));
    await bob.ok('private:message', { to: 'alice', content: 'hey' });
    await alice.waitFor(printed('[pm] 밥 → 앨리스: hey'));
  });

  it('should report url, user, connection and rooms with their last seq', async () => {
    const alice = await t.connect(h.app.url);
    let from = alice.mark();
    alice.send('status');
    await alice.waitFor(exactly(`url:       ${h.app.url}`), { from });
    await alice.waitFor(exactly('user:      alice (앨리스)'), { from });
    await alice.waitFor(exactly('connected: yes'), { from });
    await alice.waitFor(exactly('rooms:     none'), { from });

    const bob = await h.clients.as('bob', '밥');
    await alice.command('join general', startsWith('joined #general:')); // seq 1
    await bob.ok('room:join', { roomId: 'general' }); // seq 2
    await bob.ok('room:message', { roomId: 'general', content: 'hi' }); // seq 3
    await alice.waitFor(printed('#general 밥: hi'));
    await alice.command('join dev', startsWith('joined #dev:'));
    from = alice.mark();
    alice.send('status');
    await alice.waitFor(exactly('rooms:     #general (last seq 3), #dev (last seq 1, current)'), {
      from,
    });

    await alice.command('leave', exactly('left #dev; current room: #general'));
    await alice.command('status', exactly('rooms:     #general (last seq 3, current)'));
  });

  it('should hint at unknown commands and print reply errors as error CODE: message', async () => {
    const alice = await t.connect(h.app.url);
    await alice.command(
      'frobnicate',
      exactly(
        'unknown command "frobnicate": type help for the commands ' +
          '(join a room first: plain text goes to the current room)',
      ),
    );
    await alice.command('/frob now', exactly('unknown command "frob": type help for the commands'));
    await alice.command('join', exactly('usage: join <room>'));
    await alice.command('say general', exactly('usage: say <room> <text>'));
    await alice.command('say general hi', startsWith('error NOT_MEMBER: '));
    await alice.command('join no-such-room', startsWith('error NOT_FOUND: '));
    await alice.command('join bad/id', startsWith('error INVALID_PAYLOAD: '));
    await alice.command('help', /^ {2}quit +disconnect and exit$/);

    // In a room, a line that is no command is chat; with a slash it is still a command.
    await alice.command('join general', startsWith('joined #general:'));
    await alice.command('frobnicate', printed('#general 앨리스: frobnicate'));
    await alice.command('/frobnicate', startsWith('unknown command "frobnicate"'));
  });

  it('should disconnect and exit 0 on quit, and at the end of its input', async () => {
    const bob = await h.clients.as('bob', '밥');
    const alice = await t.connect(h.app.url);
    alice.send('quit');
    expect(await alice.exited()).toBe(0);
    await bob.waitFor(disconnectOf('alice'));

    const carol = await t.connect(h.app.url, 'carol', 'carol');
    await bob.waitFor(connectOf('carol'));
    carol.endInput();
    expect(await carol.exited()).toBe(0);
    await bob.waitFor(disconnectOf('carol'));
  });

  it('should exit 2 when the server refuses the identity', async () => {
    const client = t.start(['--url', h.app.url, '--user', 'not valid']);
    await client.waitFor(startsWith('cannot connect: INVALID_AUTH'), { stream: 'stderr' });
    expect(await client.exited()).toBe(2);
  });

  it('should exit 3, not reconnect, when the server disconnects the user on purpose', async () => {
    const bob = await h.clients.as('bob', '밥');
    const alice = await t.connect(h.app.url);
    expect(await post(h.app, '/api/users/alice/disconnect')).toBe(204);
    await alice.waitFor(startsWith('disconnected by the server'));
    expect(await alice.exited()).toBe(3);
    await bob.waitFor(disconnectOf('alice'));
    expect((await bob.ok('user:list')).users.map((u) => u.id)).toEqual(['bob']);
  });

  it('should exit 1 on bad arguments', async () => {
    const client = t.start(['--url', h.app.url]);
    await client.waitFor(startsWith('give --user ID'), { stream: 'stderr' });
    expect(await client.exited()).toBe(1);
  });
});

describe('terminal client under a small message limit', () => {
  const h = useApp({ MAX_MESSAGE_LENGTH: '10' });
  const t = useTerminals();

  it('should refuse to send content over the server’s limit, saying so, and send nothing', async () => {
    const bob = await h.clients.as('bob', '밥');
    await bob.ok('room:join', { roomId: 'general' });
    const alice = await t.connect(h.app.url);
    await alice.command('join general', startsWith('joined #general:'));
    await alice.command(
      'say general 안녕하세요, 반갑습니다!',
      exactly(
        'error TOO_LARGE: too long: 13 characters, the server takes at most 10 (nothing was sent)',
      ),
    );
    await alice.command('im bob 0123456789a', startsWith('error TOO_LARGE: too long: 11'));
    alice.send('say general 안녕하세요');
    // The first thing bob hears from alice is the message within the limit.
    const first = await bob.waitFor((m) => m.sender.id === 'alice' && m.type !== 'room_join');
    expect(first.content).toBe('안녕하세요');
  });
});

describe('terminal client with JWT auth', () => {
  const h = useApp({ AUTH_JWT_SECRET: SECRET });
  const t = useTerminals();

  it('should connect with a token from npm run token', async () => {
    const { stdout } = await run(
      process.execPath,
      ['dist/scripts/token.js', '--user', 'tok', '--name', '토큰', '--ttl', '5m'],
      { env: { PATH: process.env.PATH ?? '', AUTH_JWT_SECRET: SECRET } },
    );
    const client = t.start(['--url', h.app.url, '--token', stdout.trim()]);
    await client.waitFor(exactly(`connected to ${h.app.url} as 토큰 (tok)`));
  });

  it('should make no token without AUTH_JWT_SECRET, and say why', async () => {
    const failed = await run(process.execPath, ['dist/scripts/token.js', '--user', 'tok'], {
      env: { PATH: process.env.PATH ?? '' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^AUTH_JWT_SECRET is not set/),
    });
  });

  it('should connect with --token as the token subject', async () => {
    const token = await new SignJWT({ name: '토큰' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('tok')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const client = t.start(['--url', h.app.url, '--token', token]);
    await client.waitFor(exactly(`connected to ${h.app.url} as 토큰 (tok)`));
    await client.command('status', exactly('user:      tok (토큰)'));
  });

  it('should print the refusal and exit 2 on a bad token', async () => {
    const client = t.start(['--url', h.app.url, '--token', 'not-a-jwt']);
    await client.waitFor(startsWith('cannot connect: UNAUTHORIZED'), { stream: 'stderr' });
    expect(await client.exited()).toBe(2);
  });
});

// ---- connection loss -------------------------------------------------------------------

describe('terminal client losing its connection', () => {
  const h = useApp();
  const t = useTerminals();

  it('should keep retrying while the server cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const client = t.start(['--url', url, '--user', 'alice', '--timeout', '300']);
    await client.waitFor(/^cannot connect: .*\(attempt 1, retrying\)$/);
    await client.waitFor(/^cannot connect: .*\(attempt 2, retrying\)$/);
    await client.command('status', exactly('connected: no (connecting)'));
    await client.command('rooms', startsWith('error OFFLINE: '));
    client.send('quit');
    expect(await client.exited()).toBe(0);
  });

  it('should connect once the server can be reached', async () => {
    const proxy = await t.proxy(h.app.url);
    proxy.refuse(true);
    const client = t.start(['--url', proxy.url, '--user', 'alice']);
    await client.waitFor(/^cannot connect: .*\(attempt 2, retrying\)$/);
    proxy.refuse(false);
    await client.waitFor(startsWith(`connected to ${proxy.url} as alice`));
  });

  /**
   * Alice is in #general and has seen bob's "before"; `cutOff` takes her connection and the
   * proxy keeps her away while bob says three things; then she is let back in. She must print
   * each missed event exactly once, and nothing she had seen again.
   */
  async function missThreeMessages(
    cutOff: (proxy: TcpProxy) => Promise<void> | void,
    reason: string,
  ): Promise<void> {
    const proxy = await t.proxy(h.app.url);
    const bob = await h.clients.as('bob', '밥');
    await bob.ok('room:join', { roomId: 'general' }); // seq 1
    const alice = await t.connect(proxy.url);
    await alice.command('join general', startsWith('joined #general:')); // seq 2
    await bob.ok('room:message', { roomId: 'general', content: 'before' }); // seq 3
    await alice.waitFor(printed('#general 밥: before'));

    const away = alice.mark();
    proxy.refuse(true);
    await cutOff(proxy);
    await alice.waitFor(exactly(`disconnected (${reason}): reconnecting…`), { from: away });
    await bob.waitFor(leaveOf('general', 'alice')); // seq 4
    for (const n of [1, 2, 3]) {
      await bob.ok('room:message', { roomId: 'general', content: `missed ${n}` }); // seq 5-7
    }
    await alice.waitFor(startsWith('cannot connect: '), { from: away });
    proxy.refuse(false);

    // Her leave, bob's three messages and her join again (seq 8).
    const recovered = await alice.waitFor(exactly('reconnected: recovered 5 events in #general'), {
      from: away,
    });
    await bob.waitFor(joinOf('general', 'alice'));
    await bob.ok('room:message', { roomId: 'general', content: 'after' }); // seq 9
    await alice.waitFor(printed('#general 밥: after'));

    /** Where the one line printing `text` (from line `from` on) is. */
    const once = (text: string, from = 0): number => {
      const found = alice.stdout.flatMap((line, i) =>
        i >= from && printed(text).test(line) ? [i] : [],
      );
      expect({ text, times: found.length }).toEqual({ text, times: 1 });
      return found[0];
    };
    const order = [
      once('#general 밥: before'),
      once('#general * 앨리스 left general', away),
      once('#general 밥: missed 1'),
      once('#general 밥: missed 2'),
      once('#general 밥: missed 3'),
      once('#general * 앨리스 joined general', away),
      alice.stdout.indexOf(recovered, away),
      once('#general 밥: after'),
    ];
    expect(order).toEqual([...order].sort((a, b) => a - b));
    await alice.command('status', exactly('rooms:     #general (last seq 9, current)'));
  }

  it('should recover exactly the missed events after its connection drops', async () => {
    await missThreeMessages((proxy) => proxy.cut(), 'connection lost');
  });

  it('should drop a room that was closed while it was away', async () => {
    expect(await post(h.app, '/api/rooms', { id: 'pop-up' })).toBe(201);
    const proxy = await t.proxy(h.app.url);
    const alice = await t.connect(proxy.url);
    await alice.command('join general', startsWith('joined #general:'));
    await alice.command('join pop-up', startsWith('joined #pop-up:'));

    const away = alice.mark();
    proxy.refuse(true);
    proxy.cut();
    await alice.waitFor(exactly('disconnected (connection lost): reconnecting…'), { from: away });
    const closed = await fetch(`${h.app.url}/api/rooms/pop-up`, { method: 'DELETE' });
    expect(closed.status).toBe(204);
    proxy.refuse(false);

    await alice.waitFor(startsWith('error NOT_FOUND: cannot rejoin pop-up: '), { from: away });
    await alice.waitFor(exactly('left #pop-up'), { from: away });
    await alice.waitFor(exactly('reconnected: recovered 2 events in #general'), { from: away });
    await alice.command('status', exactly('rooms:     #general (last seq 3, current)'));
  });
});

describe('terminal client back after history was trimmed', () => {
  const h = useApp({ HISTORY_MAX_PER_ROOM: '3' });
  const t = useTerminals();

  it('should say that events it missed are gone', async () => {
    const proxy = await t.proxy(h.app.url);
    const bob = await h.clients.as('bob', '밥');
    await bob.ok('room:join', { roomId: 'general' }); // seq 1
    const alice = await t.connect(proxy.url);
    await alice.command('join general', startsWith('joined #general:')); // seq 2

    const away = alice.mark();
    proxy.refuse(true);
    proxy.cut();
    await bob.waitFor(leaveOf('general', 'alice')); // seq 3
    for (const n of [1, 2, 3, 4, 5]) {
      await bob.ok('room:message', { roomId: 'general', content: `missed ${n}` }); // seq 4-8
    }
    proxy.refuse(false);

    // Kept: the newest three events, seq 7-9 (her join again is seq 9).
    await alice.waitFor(exactly('reconnected: recovered 3 events in #general'), { from: away });
    // Leaving out presence lines and how many tries it took.
    const shown = alice.stdout
      .slice(away)
      .filter((line) => !/connected$|^cannot connect/.test(line));
    expect(shown).toEqual([
      'disconnected (connection lost): reconnecting…',
      `reconnected to ${proxy.url}; rejoining #general`,
      'history of #general was trimmed: some events after seq 2 are gone',
      expect.stringMatching(printed('#general 밥: missed 4')),
      expect.stringMatching(printed('#general 밥: missed 5')),
      expect.stringMatching(printed('#general * 앨리스 joined general')),
      'reconnected: recovered 3 events in #general',
    ]);
  });
});

describe('terminal client when its server shuts down', () => {
  const t = useTerminals();
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-client-shutdown-'));
  const apps: RunningApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close().catch(() => undefined)));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should reconnect to the service that takes over and recover what it missed', async () => {
    const env = { STORE: 'sqlite', DATA_DIR: dataDir };
    const first = await startApp(env);
    apps.push(first);
    const proxy = await t.proxy(first.url);
    const alice = await t.connect(proxy.url);
    await alice.command('join general', startsWith('joined #general:')); // seq 1

    const away = alice.mark();
    proxy.refuse(true);
    await first.close(); // graceful: server:shutdown first, then the connection closes
    await alice.waitFor(startsWith('disconnected ('), { from: away });

    const second = await startApp(env);
    apps.push(second);
    const bob = new Clients(() => second.url);
    const b = await bob.as('bob', '밥');
    await b.ok('room:join', { roomId: 'general' });
    await b.ok('room:message', { roomId: 'general', content: 'while you were away' });
    proxy.retarget(second.url);
    proxy.refuse(false);

    await alice.waitFor(startsWith('reconnected: recovered'), { from: away });
    await alice.waitFor(printed('#general 밥: while you were away'), { from: away });
    await b.waitFor(joinOf('general', 'alice'));
    bob.closeAll();
  });
});

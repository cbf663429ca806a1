/**
 * The seed's scripted demo over real sockets: 철수, 영희, 민수 and 지영 connect, join rooms,
 * chat, send a private message and a memo, leave and disconnect; each client prints what
 * it receives; then the server's snapshot.
 *
 *   npm run demo                      # starts its own server on a free port
 *   npm run demo -- --url http://127.0.0.1:3000 [--admin-key KEY]
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import type {
  ChatMessage,
  ClientToServerEvents,
  ServerToClientEvents,
  UserRef,
} from '../src/contract/events.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const { values: args } = parseArgs({
  options: { url: { type: 'string' }, 'admin-key': { type: 'string' } },
});

const COLORS = ['\x1b[36m', '\x1b[33m', '\x1b[35m', '\x1b[32m'];
const RESET = '\x1b[0m';

const USERS = [
  { userId: 'chulsoo', name: '철수' },
  { userId: 'younghee', name: '영희' },
  { userId: 'minsu', name: '민수' },
  { userId: 'jiyoung', name: '지영' },
];

/**
 * A user by name. The server knows the names of users online only: a memo to someone offline
 * names them by id, and the demo, like any app with its own user directory, knows better.
 */
function nameOf(user: UserRef | undefined): string {
  return USERS.find((u) => u.userId === user?.id)?.name ?? user?.name ?? '?';
}

function describe(message: ChatMessage): string {
  const where = message.roomId ? `#${message.roomId}` : '';
  const seq = message.seq === undefined ? '' : ` (seq ${message.seq})`;
  switch (message.type) {
    case 'room_chat':
      return `${where}${seq} ${message.sender.name}: ${message.content}`;
    case 'private_chat':
      return `[private] ${message.sender.name} → ${nameOf(message.recipient)}: ${message.content}`;
    case 'instant_message':
      return `[memo] ${message.sender.name} → ${nameOf(message.recipient)}: ${message.content}`;
    default:
      return `* ${where}${seq} ${message.content}`;
  }
}

/** Resolves once `socket` has received a message that `test` accepts, from now on. */
function heard(socket: Client, test: (message: ChatMessage) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: ChatMessage): void => {
      if (!test(message)) return;
      socket.off('message', listener);
      resolve();
    };
    socket.on('message', listener);
  });
}

async function startServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const { createApp } = await import('../src/app.factory.js');
  const { AppConfig } = await import('../src/config/app-config.js');
  const config = AppConfig.fromEnv({
    // A departure shows at once (unless the environment says otherwise).
    PRESENCE_GRACE_MS: '0',
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'chat-demo-')),
  });
  const app = await createApp(config, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

async function main(): Promise<void> {
  const server = args.url === undefined ? await startServer() : undefined;
  const url = args.url ?? server!.url;
  console.log(`demo against ${url}${server ? ' (self-started)' : ''}\n`);
  const users = USERS;
  const clients = new Map<string, Client>();

  const connect = async (
    index: number,
    onMessage: (message: ChatMessage) => void = () => undefined,
  ): Promise<Client> => {
    const user = users[index];
    // Everyone already here hears of the arrival before the next line is printed.
    const arrival = [...clients.values()].map((other) =>
      heard(other, (m) => m.type === 'user_connect' && m.user?.id === user.userId),
    );
    const socket: Client = io(url, { auth: user, transports: ['websocket'], forceNew: true });
    socket.on('message', (message, received) => {
      received?.(); // a stored memo: the server may delete it now
      console.log(
        `${COLORS[index]}${user.name.padEnd(3, '\u3000')} ◀ ${describe(message)}${RESET}`,
      );
      onMessage(message);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    clients.set(user.userId, socket);
    await Promise.all(arrival);
    return socket;
  };
  /**
   * Each step's output before the next header: a reply arrives after everything the server
   * emitted to that socket before it, and an ack means the step's broadcasts were emitted.
   */
  const settle = async (): Promise<void> => {
    await Promise.all(
      [...clients.values()]
        .filter((socket) => socket.connected)
        .map((socket) => socket.emitWithAck('room:list', {})),
    );
  };
  const step = async (title: string): Promise<void> => {
    await settle();
    console.log(`\n── ${title}`);
  };
  const send = async <E extends keyof ClientToServerEvents>(
    who: string,
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ): Promise<void> => {
    const socket = clients.get(who)!;
    const emit = socket.emitWithAck as (e: string, p: unknown) => Promise<{ ok: boolean }>;
    const reply = await emit.call(socket, event, payload);
    if (!reply.ok) console.log(`  ${who} ${event} → ${JSON.stringify(reply)}`);
  };

  await step('everyone connects');
  for (let i = 0; i < users.length; i++) await connect(i);

  await step('철수 and 영희 join general, 민수 and 지영 join game, everyone joins dev');
  await send('chulsoo', 'room:join', { roomId: 'general' });
  await send('younghee', 'room:join', { roomId: 'general' });
  await send('minsu', 'room:join', { roomId: 'game' });
  await send('jiyoung', 'room:join', { roomId: 'game' });
  for (const { userId } of users) await send(userId, 'room:join', { roomId: 'dev' });

  await step('room chat');
  await send('chulsoo', 'room:message', { roomId: 'general', content: '안녕하세요! 반갑습니다.' });
  await send('younghee', 'room:message', { roomId: 'general', content: '철수님 안녕하세요 👋' });
  await send('minsu', 'room:message', { roomId: 'game', content: '한 판 하실래요?' });
  await send('jiyoung', 'room:message', { roomId: 'dev', content: '배포 끝났습니다.' });

  await step('a private chat: 철수 → 영희');
  await send('chulsoo', 'private:message', { to: 'younghee', content: '점심 같이 드실래요?' });

  await step('지영 disconnects, 민수 leaves dev, 철수 leaves a memo for 지영');
  const jiyoung = clients.get('jiyoung')!;
  clients.delete('jiyoung');
  // The others hear of it once the server's presence grace (PRESENCE_GRACE_MS) is over.
  const departure = [...clients.values()].map((other) =>
    heard(other, (m) => m.type === 'user_disconnect' && m.user?.id === 'jiyoung'),
  );
  jiyoung.disconnect();
  await Promise.all(departure);
  await send('minsu', 'room:leave', { roomId: 'dev' });
  await send('chulsoo', 'memo:send', { to: 'jiyoung', content: '내일 회의 10시입니다.' });

  await step('지영 comes back and finds the memo');
  await new Promise<void>((resolve, reject) => {
    connect(3, (m) => m.type === 'instant_message' && resolve()).catch(reject);
  });

  await step('snapshot (GET /api/snapshot)');
  const headers: Record<string, string> = {};
  if (args['admin-key']) headers.authorization = `Bearer ${args['admin-key']}`;
  const response = await fetch(`${url}/api/snapshot`, { headers });
  console.log(JSON.stringify(await response.json(), null, 2));

  for (const socket of clients.values()) socket.disconnect();
  await server?.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * A terminal chat client: a readline REPL over one socket.io connection that reconnects by
 * itself and, on reconnecting, re-joins its rooms with `since` to print what it missed.
 *
 *   npm run client -- --url http://127.0.0.1:3000 --user alice --name 앨리스
 *   npm run client -- --url http://127.0.0.1:3000 --token <jwt>
 *
 * Type `help` for the commands. Exit codes: 0 after `quit` (or end of input), 1 for bad
 * arguments, 2 when the server refuses the identity (UNAUTHORIZED, INVALID_AUTH).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { UserRef } from '../src/contract/events.js';
import { Commands } from './client/commands.js';
import { colourWanted, Output } from './client/output.js';
import { ChatSession, type SessionOptions } from './client/session.js';

const USAGE = `usage: npm run client -- [--url URL] (--user ID [--name NAME] | --token JWT)
                         [--timeout MS] [--reconnect-delay MS]

  --url               server (default http://localhost:3000)
  --user, --name      open mode: user id and display name
  --token             a JWT (HS256) when the server has AUTH_JWT_SECRET
  --timeout           how long to wait for each reply (default 5000)
  --reconnect-delay   first delay before reconnecting, doubled up to 5 s (default 1000)`;

interface Settings {
  url: string;
  auth: SessionOptions['auth'];
  me: UserRef;
  replyTimeoutMs: number;
  reconnectDelayMs: number;
}

/** Settings from the command line, or the reason they make no sense. */
function settings(argv: string[]): Settings | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string', default: 'http://localhost:3000' },
        user: { type: 'string' },
        name: { type: 'string' },
        token: { type: 'string' },
        timeout: { type: 'string', default: '5000' },
        'reconnect-delay': { type: 'string', default: '1000' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (values.help) return '';
  const replyTimeoutMs = Number(values.timeout);
  const reconnectDelayMs = Number(values['reconnect-delay']);
  if (!Number.isSafeInteger(replyTimeoutMs) || replyTimeoutMs < 1)
    return '--timeout: a number of ms';
  if (!Number.isSafeInteger(reconnectDelayMs) || reconnectDelayMs < 1) {
    return '--reconnect-delay: a number of ms';
  }
  const base = { url: values.url, replyTimeoutMs, reconnectDelayMs };
  if (values.token !== undefined) {
    if (values.user !== undefined || values.name !== undefined) {
      return 'give either --token or --user (and --name), not both';
    }
    return { ...base, auth: { token: values.token }, me: tokenIdentity(values.token) };
  }
  if (values.user === undefined) return 'give --user ID (open mode) or --token JWT';
  const name = values.name ?? values.user;
  return {
    ...base,
    auth: values.name === undefined ? { userId: values.user } : { userId: values.user, name },
    me: { id: values.user, name },
  };
}

/** Who a JWT says we are (sub, name), unverified: only for display until the server says. */
function tokenIdentity(token: string): UserRef {
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    if (typeof claims === 'object' && claims !== null) {
      const { sub, name } = claims as { sub?: unknown; name?: unknown };
      if (typeof sub === 'string') return { id: sub, name: typeof name === 'string' ? name : sub };
    }
  } catch {
    // Not a readable JWT: the server will say so with UNAUTHORIZED.
  }
  return { id: '(token)', name: '(token)' };
}

function main(): void {
  const parsed = settings(process.argv.slice(2));
  if (parsed === '') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (typeof parsed === 'string') {
    process.stderr.write(`${parsed}\n\n${USAGE}\n`);
    process.exitCode = 1;
    return;
  }

  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const out = new Output(process.stdout, colourWanted(process.stdout, process.env));
  const rl = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
  });
  const setPrompt = (room: string | undefined): void =>
    rl.setPrompt(room === undefined ? '> ' : `#${room}> `);

  let finished = false;
  const finish = (code: number): void => {
    if (finished) return;
    finished = true;
    process.exitCode = code;
    session.close();
    rl.close();
    // Everything is closed; should a handle linger anyway, do not hang.
    setTimeout(() => process.exit(code), 1000).unref();
  };

  const session = new ChatSession(
    {
      ...parsed,
      onRefused: (code) => {
        process.stderr.write(`cannot connect: ${code} (the server refused this identity)\n`);
        finish(2);
      },
      onDropped: () => finish(3),
      onCurrentRoom: setPrompt,
    },
    out,
  );
  const commands = new Commands(session, out, () => finish(0));

  // One command at a time, in the order typed: replies print in that order too.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue
      .then(() => (finished ? undefined : commands.handle(line)))
      .catch((error: unknown) => out.error('INTERNAL', String(error)))
      .then(() => {
        if (interactive && !finished) rl.prompt();
      });
  });
  rl.on('close', () => void queue.then(() => finish(0)));
  rl.on('SIGINT', () => rl.close());

  if (interactive) {
    out.attachPrompt(rl);
    setPrompt(undefined);
    rl.prompt();
  }
  session.start();
}

main();

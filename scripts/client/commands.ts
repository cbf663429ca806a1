/**
 * The REPL's commands: one line in, one action on the session, its outcome printed.
 * A command may start with `/`; a line that is no command is said in the current room.
 */
import type { Output } from './output.js';
import type { ChatSession } from './session.js';

interface Command {
  usage: string;
  help: string;
  /** `rest` is the line after the command word; false when it does not fit the usage. */
  run(rest: string): Promise<boolean | void> | boolean | void;
}

/** The first word of `text` and what follows the whitespace after it. */
function word(text: string): [string, string] | undefined {
  const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text);
  return match === null ? undefined : [match[1], match[2] ?? ''];
}

export class Commands {
  readonly #commands: Record<string, Command>;

  constructor(
    private readonly session: ChatSession,
    private readonly out: Output,
    private readonly quit: () => void,
  ) {
    this.#commands = {
      join: {
        usage: 'join <room>',
        help: 'join a room; it becomes the current room',
        run: (rest) => this.#oneWord(rest, (room) => session.join(room)),
      },
      leave: {
        usage: 'leave [room]',
        help: 'leave a room (the current one when none is given)',
        run: (rest) => {
          const room = rest.trim() || session.current;
          if (room === undefined || /\s/.test(room)) return false;
          return session.leave(room).then(() => true);
        },
      },
      say: {
        usage: 'say <room> <text>',
        help: 'say something in a room; plain text goes to the current room',
        run: (rest) => this.#wordAndText(rest, (room, text) => this.#say(room, text)),
      },
      pm: {
        usage: 'pm <user> <text>',
        help: 'private message to a user who is online',
        run: (rest) => this.#wordAndText(rest, (to, text) => this.#pm(to, text)),
      },
      im: {
        usage: 'im <user> <text>',
        help: 'memo (쪽지): kept for the user until it is next online',
        run: (rest) => this.#wordAndText(rest, (to, text) => this.#memo(to, text)),
      },
      edit: {
        usage: 'edit <seq> <text>',
        help: 'change your message #seq in the current room',
        run: (rest) =>
          this.#seqAndText(rest, (room, seq, content) => this.#edit(room, seq, content)),
      },
      del: {
        usage: 'del <seq>',
        help: 'delete message #seq in the current room (yours, or any in a room you own)',
        run: (rest) =>
          this.#seqOnly(rest, (room, seq) => this.#roomEvent('room:delete', { roomId: room, seq })),
      },
      react: {
        usage: 'react <seq> <emoji>',
        help: 'react to message #seq in the current room',
        run: (rest) =>
          this.#seqAndText(rest, (room, seq, emoji) => this.#react(room, seq, emoji, true)),
      },
      unreact: {
        usage: 'unreact <seq> <emoji>',
        help: 'take your reaction back',
        run: (rest) =>
          this.#seqAndText(rest, (room, seq, emoji) => this.#react(room, seq, emoji, false)),
      },
      read: {
        usage: 'read',
        help: 'mark the current room read up to its latest message',
        run: (rest) => this.#noArgs(rest, () => this.#read()),
      },
      block: {
        usage: 'block <user>',
        help: 'refuse private messages and memos from a user',
        run: (rest) => this.#oneWord(rest, (user) => this.#block(user, true)),
      },
      unblock: {
        usage: 'unblock <user>',
        help: 'take their messages again',
        run: (rest) => this.#oneWord(rest, (user) => this.#block(user, false)),
      },
      blocks: {
        usage: 'blocks',
        help: 'the users you block',
        run: (rest) => this.#noArgs(rest, () => this.#blocks()),
      },
      rooms: {
        usage: 'rooms',
        help: 'list the rooms',
        run: (rest) => this.#noArgs(rest, () => this.#rooms()),
      },
      users: {
        usage: 'users',
        help: 'list the users online',
        run: (rest) => this.#noArgs(rest, () => this.#users()),
      },
      history: {
        usage: 'history <room> [limit]',
        help: "a room's latest events (limit 1-200, default 50)",
        run: (rest) => {
          const [room, limit, extra] = rest.trim().split(/\s+/);
          if (!room || extra !== undefined || (limit !== undefined && !/^\d+$/.test(limit))) {
            return false;
          }
          return session.history(room, limit === undefined ? undefined : Number(limit));
        },
      },
      status: {
        usage: 'status',
        help: 'server, user, connection and the rooms joined',
        run: (rest) => this.#noArgs(rest, () => this.#status()),
      },
      help: {
        usage: 'help',
        help: 'this list',
        run: () => this.#help(),
      },
      quit: {
        usage: 'quit',
        help: 'disconnect and exit',
        run: () => this.quit(),
      },
    };
  }

  async handle(line: string): Promise<void> {
    const input = line.trimStart();
    if (input.trim() === '') return;
    const slash = input.startsWith('/');
    const [name, rest] = word(slash ? input.slice(1) : input) ?? ['', ''];
    const command = Object.hasOwn(this.#commands, name.toLowerCase())
      ? this.#commands[name.toLowerCase()]
      : undefined;
    if (command === undefined) {
      const room = this.session.current;
      if (!slash && room !== undefined) return this.#say(room, line);
      const chat = slash ? '' : ' (join a room first: plain text goes to the current room)';
      this.out.line(`unknown command "${name}": type help for the commands${chat}`);
      return;
    }
    if ((await command.run(rest)) === false) this.out.line(`usage: ${command.usage}`);
  }

  #oneWord(rest: string, run: (arg: string) => Promise<void>): Promise<void> | false {
    const arg = rest.trim();
    return arg === '' || /\s/.test(arg) ? false : run(arg);
  }

  #wordAndText(rest: string, run: (arg: string, text: string) => Promise<void>) {
    const parts = word(rest);
    return parts === undefined || parts[1].trim() === '' ? false : run(parts[0], parts[1]);
  }

  #noArgs(rest: string, run: () => Promise<void> | void): Promise<void> | void | false {
    return rest.trim() === '' ? run() : false;
  }

  /** `<seq>` of a message in the current room. */
  #seqOnly(rest: string, run: (room: string, seq: number) => Promise<void>) {
    const arg = rest.trim();
    if (!/^\d+$/.test(arg)) return false;
    const room = this.#currentRoom();
    return room === undefined ? undefined : run(room, Number(arg));
  }

  /** `<seq> <text>` on a message of the current room. */
  #seqAndText(rest: string, run: (room: string, seq: number, text: string) => Promise<void>) {
    const parts = word(rest);
    if (parts === undefined || !/^\d+$/.test(parts[0]) || parts[1].trim() === '') return false;
    const room = this.#currentRoom();
    return room === undefined ? undefined : run(room, Number(parts[0]), parts[1]);
  }

  #currentRoom(): string | undefined {
    const room = this.session.current;
    if (room === undefined) this.out.line('join a room first: these act on the current room');
    return room;
  }

  /** The room echoes the event to us: printing it is the `message` handler's job. */
  async #roomEvent(
    event: 'room:delete' | 'room:edit',
    payload: { roomId: string; seq: number; content?: string },
  ): Promise<void> {
    const reply = await this.session.request(event, payload as never);
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
  }

  async #edit(roomId: string, seq: number, content: string): Promise<void> {
    if (this.#refused(content)) return;
    await this.#roomEvent('room:edit', { roomId, seq, content });
  }

  async #react(roomId: string, seq: number, emoji: string, on: boolean): Promise<void> {
    const reply = await this.session.request('room:react', {
      roomId,
      seq,
      emoji: emoji.trim(),
      on,
    });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else if (reply.message === undefined) {
      this.out.info(
        on ? `you already reacted ${emoji.trim()}` : `you had not reacted ${emoji.trim()}`,
      );
    }
  }

  async #read(): Promise<void> {
    const roomId = this.#currentRoom();
    if (roomId === undefined) return;
    const seq = this.session.rooms.find((room) => room.roomId === roomId)?.lastSeq ?? 0;
    const reply = await this.session.request('room:read', { roomId, seq });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else this.out.info(`${this.out.room(roomId)} read up to #${reply.lastRead}`);
  }

  async #block(userId: string, on: boolean): Promise<void> {
    const reply = await this.session.request(on ? 'user:block' : 'user:unblock', { userId });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else this.out.info(on ? `blocked ${userId}` : `unblocked ${userId}`);
  }

  async #blocks(): Promise<void> {
    const reply = await this.session.request('user:blocks', {});
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else
      this.out.line(
        `blocked (${reply.users.length}): ${reply.users.sort().join(', ') || 'nobody'}`,
      );
  }

  /** The room echoes the message to us: printing it is the `message` handler's job. */
  async #say(roomId: string, content: string): Promise<void> {
    if (this.#refused(content)) return;
    const reply = await this.session.request('room:message', { roomId, content });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
  }

  async #pm(to: string, content: string): Promise<void> {
    if (this.#refused(content)) return;
    const reply = await this.session.request('private:message', { to, content });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
  }

  async #memo(to: string, content: string): Promise<void> {
    if (this.#refused(content)) return;
    const reply = await this.session.request('memo:send', { to, content });
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else if (!reply.delivered) this.out.info(`memo kept for ${to}: delivered when they connect`);
  }

  #refused(content: string): boolean {
    const refusal = this.session.refusal(content);
    if (refusal !== undefined) this.out.error('TOO_LARGE', refusal);
    return refusal !== undefined;
  }

  async #rooms(): Promise<void> {
    const reply = await this.session.request('room:list', {});
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else this.out.rooms(reply.rooms, new Set(this.session.rooms.map((r) => r.roomId)));
  }

  async #users(): Promise<void> {
    const reply = await this.session.request('user:list', {});
    if (!reply.ok) this.out.error(reply.error.code, reply.error.message);
    else this.out.users(reply.users);
  }

  #status(): void {
    const { me, current } = this.session;
    const rooms = this.session.rooms.map(
      ({ roomId, lastSeq }) =>
        `${this.out.room(roomId)} (last seq ${lastSeq}${roomId === current ? ', current' : ''})`,
    );
    this.out.line(`url:       ${this.session.url}`);
    this.out.line(`user:      ${me.id}${me.name === me.id ? '' : ` (${me.name})`}`);
    const { connected, everConnected } = this.session;
    const down = everConnected ? 'no (reconnecting)' : 'no (connecting)';
    this.out.line(`connected: ${connected ? 'yes' : down}`);
    this.out.line(`rooms:     ${rooms.join(', ') || 'none'}`);
  }

  #help(): void {
    const width = Math.max(...Object.values(this.#commands).map((c) => c.usage.length)) + 2;
    this.out.line('commands (a leading / is optional):');
    for (const command of Object.values(this.#commands)) {
      this.out.line(`  ${command.usage.padEnd(width)}${command.help}`);
    }
    this.out.line('  <text>'.padEnd(width + 2) + 'say <text> in the current room');
  }
}

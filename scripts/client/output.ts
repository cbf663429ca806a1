/**
 * What the terminal client prints: one line per message or reply, coloured on a terminal
 * and plain otherwise (a pipe, or NO_COLOR set), printed above the prompt the user is
 * typing into.
 */
import { clearLine, cursorTo, type Interface } from 'node:readline';
import type {
  ChatMessage,
  ReadReceipt,
  RoomSummary,
  TypingEvent,
  UserRef,
} from '../../src/contract/events.js';

const STYLES = {
  bold: '1',
  dim: '2',
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  magenta: '35',
  cyan: '36',
} as const;
export type Style = keyof typeof STYLES;

/** Colours that tell senders apart; a user keeps one colour for the whole session. */
const USER_STYLES: readonly Style[] = ['cyan', 'yellow', 'magenta', 'green', 'blue'];

/** https://no-color.org: colour only on a terminal, and not when NO_COLOR is set. */
export function colourWanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export class Output {
  #prompt: Interface | undefined;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly colour: boolean,
  ) {}

  /** Once set, lines are printed above the prompt and the prompt (with its input) redrawn. */
  attachPrompt(rl: Interface): void {
    this.#prompt = rl;
    rl.once('close', () => {
      this.#prompt = undefined;
    });
  }

  paint(style: Style, text: string): string {
    return this.colour ? `\x1b[${STYLES[style]}m${text}\x1b[0m` : text;
  }

  line(text: string): void {
    if (this.#prompt === undefined) {
      this.stream.write(`${text}\n`);
      return;
    }
    clearLine(this.stream, 0);
    cursorTo(this.stream, 0);
    this.stream.write(`${text}\n`);
    this.#prompt.prompt(true);
  }

  /** Every error, from the server or local, in one shape: `error CODE: message`. */
  error(code: string, message: string): void {
    this.line(this.paint('red', `error ${code}: ${message}`));
  }

  info(text: string): void {
    this.line(this.paint('dim', text));
  }

  message(message: ChatMessage): void {
    this.line(this.describe(message));
  }

  /** A read receipt (small rooms): who read up to where. */
  readReceipt(event: ReadReceipt): void {
    this.line(
      this.paint('dim', `${this.room(event.roomId)} ${event.user.name} read up to #${event.seq}`),
    );
  }

  typing(event: TypingEvent): void {
    this.line(this.paint('dim', `${this.room(event.roomId)} ${event.user.name} is typing…`));
  }

  describe(m: ChatMessage): string {
    const time = this.paint('dim', clock(m.timestamp));
    const room = m.roomId === undefined ? '' : `${this.room(m.roomId)} `;
    switch (m.type) {
      case 'room_chat':
        return `${time} ${room}${this.user(m.sender)}: ${m.content}${this.#state(m)}`;
      case 'room_join':
      case 'room_leave':
        return `${time} ${room}${this.paint('yellow', `* ${m.content}`)}`;
      case 'room_notice':
        return `${time} ${room}${this.paint('yellow', `notice: ${m.content}`)}`;
      case 'private_chat':
        return `${time} ${this.paint('magenta', '[pm]')} ${this.#pair(m)}: ${m.content}`;
      case 'instant_message':
        return `${time} ${this.paint('green', '[memo]')} ${this.#pair(m)}: ${m.content}`;
      case 'user_connect':
      case 'user_disconnect':
        return `${time} ${this.paint('dim', `* ${m.content}`)}`;
      case 'room_edit':
        return `${time} ${room}${this.user(m.sender)} edited #${m.target}: ${m.content}`;
      case 'room_delete':
        return `${time} ${room}${this.paint('dim', `* ${m.sender.name} deleted #${m.target}`)}`;
      case 'room_reaction': {
        const did = m.on === true ? `reacted ${m.emoji} to` : `took back ${m.emoji} from`;
        return `${time} ${room}${this.paint('dim', `* ${m.sender.name} ${did} #${m.target}`)}`;
      }
    }
  }

  /** A room_chat's seq (what edit, del and react name) and, in history, its state. */
  #state(m: ChatMessage): string {
    const marks: string[] = [`#${m.seq}`];
    if (m.deleted === true) marks.push('deleted');
    else if (m.edited === true) marks.push('edited');
    for (const [emoji, count] of Object.entries(m.reactions ?? {})) marks.push(`${emoji}${count}`);
    return this.paint('dim', ` ${marks.join(' ')}`);
  }

  rooms(rooms: readonly RoomSummary[], joined: ReadonlySet<string>): void {
    if (rooms.length === 0) {
      this.line('rooms: none');
      return;
    }
    this.line(`rooms (${rooms.length}):`);
    const width = Math.max(...rooms.map((r) => r.id.length)) + 2;
    for (const r of rooms) {
      const unread = r.unread > 0 ? `${r.unread} unread` : '';
      const flags = [r.private ? 'private' : '', joined.has(r.id) ? 'joined' : '', unread]
        .filter(Boolean)
        .join(', ');
      const name = r.name === r.id ? '' : ` "${r.name}"`;
      const count = `${r.members} member${r.members === 1 ? '' : 's'}`;
      this.line(
        `  ${this.room(r.id)}${' '.repeat(width - r.id.length)}${count}${name}${flags ? ` (${flags})` : ''}`,
      );
    }
  }

  users(users: readonly UserRef[]): void {
    const list = users.map((u) => (u.name === u.id ? u.id : `${u.id} (${u.name})`)).join(', ');
    this.line(`online (${users.length}): ${list || 'nobody'}`);
  }

  room(roomId: string): string {
    return this.paint('cyan', `#${roomId}`);
  }

  user(user: UserRef): string {
    return this.paint(
      'bold',
      this.paint(USER_STYLES[hash(user.id) % USER_STYLES.length], user.name),
    );
  }

  #pair(m: ChatMessage): string {
    const to = m.recipient === undefined ? '?' : this.user(m.recipient);
    return `${this.user(m.sender)} → ${to}`;
  }
}

/** Local wall-clock time of an ISO timestamp, HH:MM:SS. */
function clock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '--:--:--';
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

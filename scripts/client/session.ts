/**
 * The terminal client's connection: one socket.io socket that reconnects by itself, the
 * rooms it is in with the highest seq seen in each, and the re-join with `since` that
 * recovers what was missed while away, each event printed once.
 */
import { io, type Socket } from 'socket.io-client';
import type {
  ChatMessage,
  ClientEventInput,
  ClientEventName,
  ClientEventResult,
  ClientToServerEvents,
  ErrorCode,
  Reply,
  RoomJoinResult,
  ServerToClientEvents,
  UserRef,
} from '../../src/contract/events.js';
import type { Output } from './output.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Failures that happen on this side of the wire, printed like the server's codes. */
export type LocalErrorCode = 'OFFLINE' | 'TIMEOUT' | 'DISCONNECTED';

/** A reply, or a local failure in the same shape. */
export type Outcome<T extends object> =
  ({ ok: true } & T) | { ok: false; error: { code: ErrorCode | LocalErrorCode; message: string } };

const LOCAL_CODES: ReadonlySet<string> = new Set<LocalErrorCode>([
  'OFFLINE',
  'TIMEOUT',
  'DISCONNECTED',
]);

/** Handshake refusals: retrying cannot help. */
const AUTH_REFUSALS: ReadonlySet<string> = new Set(['UNAUTHORIZED', 'INVALID_AUTH']);

const MAX_RECONNECT_DELAY_MS = 5000;

export interface SessionOptions {
  url: string;
  auth: { token: string } | { userId: string; name?: string };
  /** Who we are, as far as we know before the server says so. */
  me: UserRef;
  replyTimeoutMs: number;
  reconnectDelayMs: number;
  /** The handshake was refused (UNAUTHORIZED, INVALID_AUTH): the client should stop. */
  onRefused: (code: string) => void;
  /** The server closed the connection on purpose (admin, idle timeout): the client should stop. */
  onDropped: () => void;
  /** The current room changed (join, leave, kick). */
  onCurrentRoom?: (roomId: string | undefined) => void;
}

/** Memo ids remembered to drop a memo delivered again. */
const MEMO_IDS_KEPT = 10_000;

interface RoomState {
  /** Highest seq seen in this room, live or in a reply. */
  lastSeq: number;
  /** While a join is in flight, the room's live events wait here to be merged with its reply. */
  pending: ChatMessage[] | undefined;
}

interface JoinOutcome {
  reply: Outcome<RoomJoinResult>;
  /** Events not seen before, oldest first: the reply's, then live ones that came meanwhile. */
  fresh: ChatMessage[];
  /** How many of `fresh` came from the reply. */
  recovered: number;
}

/** How long the first connect waits for GET /info. */
const LIMITS_TIMEOUT_MS = 1000;

export class ChatSession {
  readonly #socket: ClientSocket;
  readonly #rooms = new Map<string, RoomState>();
  readonly #memoIds = new Set<string>();
  readonly #connectWaiters = new Set<(connected: boolean) => void>();
  #current: string | undefined;
  #me: UserRef;
  #everConnected = false;
  #closing = false;
  /** Set by server:shutdown: the server is going away, so its drop is worth retrying. */
  #serverLeaving = false;
  #failedAttempts = 0;
  #manualRetries = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  /** The server's MAX_MESSAGE_LENGTH, from GET /info; undefined until known. */
  #maxMessageLength: number | undefined;

  constructor(
    private readonly options: SessionOptions,
    private readonly out: Output,
  ) {
    this.#me = { ...options.me };
    this.#socket = io(options.url, {
      auth: options.auth,
      transports: ['websocket'],
      forceNew: true,
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: options.reconnectDelayMs,
      reconnectionDelayMax: Math.max(MAX_RECONNECT_DELAY_MS, options.reconnectDelayMs),
    });
    this.#socket.on('connect', () => this.#onConnect());
    this.#socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    this.#socket.on('connect_error', (error) => this.#onConnectError(error));
    this.#socket.on('message', (message, received) => {
      // A memo the server stored for us: it may delete it now.
      received?.();
      this.#onMessage(message);
    });
    this.#socket.on('typing', (event) => this.out.typing(event));
    this.#socket.on('read', (event) => this.out.readReceipt(event));
    this.#socket.on('chat:error', (e) => this.out.error(e.code, `${e.message} (${e.event})`));
    this.#socket.on('server:shutdown', () => (this.#serverLeaving = true));
  }

  get url(): string {
    return this.options.url;
  }

  get me(): UserRef {
    return this.#me;
  }

  get current(): string | undefined {
    return this.#current;
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  /** Connected before: a connection now down is being re-established. */
  get everConnected(): boolean {
    return this.#everConnected;
  }

  /** Rooms joined, most recently joined last, with the highest seq seen in each. */
  get rooms(): Array<{ roomId: string; lastSeq: number }> {
    return [...this.#rooms].map(([roomId, state]) => ({ roomId, lastSeq: state.lastSeq }));
  }

  start(): void {
    this.out.info(`connecting to ${this.options.url} as ${this.#me.id}…`);
    // The limits first (one quick request), so that the first line typed is checked too.
    void this.#learnLimits(LIMITS_TIMEOUT_MS).finally(() => {
      if (!this.#closing) this.#socket.connect();
    });
  }

  /**
   * Why `content` cannot be sent as it is (over the server's message limit), so that nothing
   * goes out and the user hears it in words; undefined when it may be sent.
   */
  refusal(content: string): string | undefined {
    const max = this.#maxMessageLength;
    const length = [...content].length;
    if (max === undefined || length <= max) return undefined;
    return `too long: ${length} characters, the server takes at most ${max} (nothing was sent)`;
  }

  /** Best effort: without it, the server's TOO_LARGE still says the same. */
  async #learnLimits(timeoutMs = this.options.replyTimeoutMs): Promise<void> {
    try {
      const response = await fetch(new URL('/info', this.options.url), {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) return;
      const info = (await response.json()) as { maxMessageLength?: unknown };
      if (typeof info.maxMessageLength === 'number') this.#maxMessageLength = info.maxMessageLength;
    } catch {
      // An older server, or not up yet: asked again on the next connect.
    }
  }

  close(): void {
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    for (const waiter of this.#connectWaiters) waiter(false);
    this.#socket.disconnect();
  }

  /**
   * Sends one event with an ack and a timeout. While the connection is down it first waits
   * (up to the timeout) for it to come back, so a command typed during a reconnect is sent
   * after the rooms have been re-joined.
   */
  async request<E extends ClientEventName>(
    event: E,
    payload: ClientEventInput<E>,
  ): Promise<Outcome<ClientEventResult<E>>> {
    const timeoutMs = this.options.replyTimeoutMs;
    // Connected: the emit happens synchronously, before this method first yields.
    if (!this.#socket.connected && !(await this.#whenConnected(timeoutMs))) {
      return { ok: false, error: { code: 'OFFLINE', message: 'not connected to the server' } };
    }
    const socket = this.#socket.timeout(timeoutMs);
    const emit = socket.emitWithAck as unknown as (
      event: E,
      payload: ClientEventInput<E>,
    ) => Promise<Reply<ClientEventResult<E>>>;
    try {
      return await emit.call(socket, event, payload);
    } catch {
      return this.#socket.connected
        ? {
            ok: false,
            error: { code: 'TIMEOUT', message: `no reply to ${event} in ${timeoutMs} ms` },
          }
        : {
            ok: false,
            error: { code: 'DISCONNECTED', message: `connection lost during ${event}` },
          };
    }
  }

  /** `join <room>`: joins, makes it the current room and prints what the room said lately. */
  async join(roomId: string): Promise<void> {
    const { reply, fresh } = await this.#join(roomId, undefined);
    if (!reply.ok) {
      this.out.error(reply.error.code, reply.error.message);
      return;
    }
    const state = this.#rooms.get(roomId);
    if (state !== undefined) {
      // The most recently joined room goes last: it is current again when a later one is left.
      this.#rooms.delete(roomId);
      this.#rooms.set(roomId, state);
      this.#setCurrent(roomId);
    }
    const members = reply.room.members.map((m) => m.name).join(', ');
    const name = reply.room.name === roomId ? '' : ` "${reply.room.name}"`;
    const count = reply.room.members.length;
    // What the room said lately, then the summary: the last line is the answer to the command.
    for (const message of fresh) this.out.message(message);
    this.out.line(
      `joined ${this.out.room(roomId)}${name}: ${count} member${count === 1 ? '' : 's'}: ${members}`,
    );
  }

  /** `leave <room>`. */
  async leave(roomId: string): Promise<void> {
    const reply = await this.request('room:leave', { roomId });
    if (!reply.ok) {
      this.out.error(reply.error.code, reply.error.message);
      return;
    }
    this.#forget(roomId);
    const now =
      this.#current === undefined ? '' : `; current room: ${this.out.room(this.#current)}`;
    this.out.line(`left ${this.out.room(roomId)}${now}`);
  }

  /** `history <room> [limit]`: prints the events; they count as seen. */
  async history(roomId: string, limit: number | undefined): Promise<void> {
    const reply = await this.request(
      'room:history',
      limit === undefined ? { roomId } : { roomId, limit },
    );
    if (!reply.ok) {
      this.out.error(reply.error.code, reply.error.message);
      return;
    }
    const state = this.#rooms.get(roomId);
    const n = reply.messages.length;
    this.out.line(`history of ${this.out.room(roomId)}: ${n} event${n === 1 ? '' : 's'}`);
    for (const message of reply.messages) {
      this.out.message(message);
      if (state !== undefined && state.pending === undefined && message.seq !== undefined) {
        state.lastSeq = Math.max(state.lastSeq, message.seq);
      }
    }
  }

  // ---- connection -------------------------------------------------------------------------

  #onConnect(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#failedAttempts = 0;
    this.#manualRetries = 0;
    const again = this.#everConnected;
    this.#everConnected = true;
    if (this.#maxMessageLength === undefined) void this.#learnLimits();
    const who = this.#me.name === this.#me.id ? this.#me.id : `${this.#me.name} (${this.#me.id})`;
    if (again) {
      const rooms = [...this.#rooms.keys()].map((id) => this.out.room(id)).join(', ');
      this.out.line(
        this.out.paint('green', `reconnected to ${this.options.url}`) +
          (rooms ? `; rejoining ${rooms}` : ''),
      );
      // Synchronously, before anything else is sent: the re-joins go first on the wire.
      void this.#rejoinAll();
    } else {
      this.out.line(this.out.paint('green', `connected to ${this.options.url} as ${who}`));
      this.out.info('type help for the commands');
    }
    for (const waiter of this.#connectWaiters) waiter(true);
  }

  #onDisconnect(reason: Socket.DisconnectReason): void {
    if (this.#closing) return;
    if (reason === 'io server disconnect' && !this.#serverLeaving) {
      // Dropped on purpose: coming straight back would undo what the server decided.
      this.out.line(
        this.out.paint('red', 'disconnected by the server (idle too long, or removed by an admin)'),
      );
      this.options.onDropped();
      return;
    }
    this.#serverLeaving = false;
    this.out.line(this.out.paint('red', `disconnected (${explain(reason)}): reconnecting…`));
    // After a server-side disconnect socket.io-client does not retry by itself.
    if (!this.#socket.active) this.#scheduleConnect();
  }

  #onConnectError(error: Error): void {
    if (this.#closing) return;
    if (AUTH_REFUSALS.has(error.message)) {
      this.options.onRefused(error.message);
      return;
    }
    this.#failedAttempts++;
    this.out.line(
      this.out.paint(
        'red',
        `cannot connect: ${detail(error)} (attempt ${this.#failedAttempts}, retrying)`,
      ),
    );
    if (!this.#socket.active) this.#scheduleConnect();
  }

  /** A retry of our own, for the cases where socket.io-client gives up (server disconnect). */
  #scheduleConnect(): void {
    if (this.#closing || this.#retryTimer !== undefined) return;
    const delay = Math.min(
      this.options.reconnectDelayMs * 2 ** this.#manualRetries++,
      Math.max(MAX_RECONNECT_DELAY_MS, this.options.reconnectDelayMs),
    );
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closing && !this.#socket.connected) this.#socket.connect();
    }, delay);
  }

  #whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.#socket.connected) return Promise.resolve(true);
    if (this.#closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (connected: boolean): void => {
        clearTimeout(timer);
        this.#connectWaiters.delete(done);
        resolve(connected);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#connectWaiters.add(done);
    });
  }

  // ---- rooms ------------------------------------------------------------------------------

  /**
   * Joins (with `since` to recover). Until the reply is in, the room's live events are held
   * back, then merged with the reply's and deduplicated by seq, so each prints once and in
   * order. When connected the join is sent before this method first yields.
   */
  async #join(roomId: string, since: number | undefined): Promise<JoinOutcome> {
    let state = this.#rooms.get(roomId);
    const known = state !== undefined;
    if (state === undefined) {
      state = { lastSeq: 0, pending: [] };
      this.#rooms.set(roomId, state);
    } else {
      state.pending ??= [];
    }
    const reply = await this.#joinAllPages(roomId, since);
    const live = state.pending ?? [];
    state.pending = undefined;
    if (!reply.ok && !known) this.#rooms.delete(roomId);
    const fromReply = reply.ok ? this.#unseen(state, reply.messages) : [];
    const fresh = [...fromReply, ...this.#unseen(state, live)];
    // The last word on our own membership: kicked while the join was in flight?
    const own = fresh.findLast(
      (m) => (m.type === 'room_join' || m.type === 'room_leave') && m.user?.id === this.#me.id,
    );
    if (own?.type === 'room_leave' && this.#rooms.get(roomId) === state) this.#forget(roomId);
    return { reply, fresh, recovered: fromReply.length };
  }

  /**
   * room:join, then again from the last seq of each reply while the server says `more`
   * (a recovery cut to its byte budget): one reply with every page's messages.
   */
  async #joinAllPages(roomId: string, since: number | undefined): Promise<Outcome<RoomJoinResult>> {
    const first = await this.request(
      'room:join',
      since === undefined ? { roomId } : { roomId, since },
    );
    if (!first.ok || first.more !== true) return first;
    const messages = [...first.messages];
    let page: Outcome<RoomJoinResult> = first;
    while (page.ok && page.more === true) {
      const after: number = page.messages.at(-1)?.seq ?? since ?? 0;
      page = await this.request('room:join', { roomId, since: after });
      if (page.ok) messages.push(...page.messages);
    }
    if (!page.ok) return page;
    // The last page has no `more`: the whole answer has none.
    return { ...page, messages, complete: first.complete };
  }

  /** Keeps the events not seen yet (seq above the room's last) and advances its last seq. */
  #unseen(state: RoomState, messages: readonly ChatMessage[]): ChatMessage[] {
    const unseen: ChatMessage[] = [];
    for (const message of messages) {
      if (message.seq !== undefined) {
        if (message.seq <= state.lastSeq) continue;
        state.lastSeq = message.seq;
      }
      unseen.push(message);
    }
    return unseen;
  }

  async #rejoinAll(): Promise<void> {
    const rooms = [...this.#rooms]
      .filter(([, state]) => state.pending === undefined) // a join of it is on its way already
      .map(([roomId, state]) => ({ roomId, since: state.lastSeq }));
    await Promise.all(
      rooms.map(async ({ roomId, since }) => {
        const { reply, fresh, recovered } = await this.#join(roomId, since);
        const room = this.out.room(roomId);
        if (!reply.ok) {
          this.out.error(reply.error.code, `cannot rejoin ${roomId}: ${reply.error.message}`);
          for (const message of fresh) this.out.message(message);
          if (!LOCAL_CODES.has(reply.error.code)) {
            this.#forget(roomId);
            this.out.info(`left ${room}`);
          }
          return;
        }
        if (!reply.complete) {
          this.out.line(
            this.out.paint('yellow', `history of `) +
              room +
              this.out.paint('yellow', ` was trimmed: some events after seq ${since} are gone`),
          );
        }
        for (const message of fresh) this.out.message(message);
        const s = recovered === 1 ? '' : 's';
        this.out.line(
          this.out.paint('green', `reconnected: recovered ${recovered} event${s} in `) + room,
        );
      }),
    );
  }

  #onMessage(message: ChatMessage): void {
    const { roomId, seq } = message;
    // Stored memos come at least once: one already shown comes again after a reconnect.
    if (message.type === 'instant_message' && !this.#firstSight(message.id)) return;
    const state = roomId === undefined ? undefined : this.#rooms.get(roomId);
    if (state?.pending !== undefined) {
      state.pending.push(message);
      return;
    }
    const mine = message.user?.id === this.#me.id;
    if (roomId !== undefined && seq !== undefined) {
      if (state === undefined) {
        // Placed in a room by someone else (the admin API): from now on it is ours.
        if (message.type === 'room_join' && mine) {
          this.#rooms.set(roomId, { lastSeq: seq, pending: undefined });
          if (this.#current === undefined) this.#setCurrent(roomId);
        }
      } else {
        if (seq <= state.lastSeq) return;
        state.lastSeq = seq;
        if (message.type === 'room_leave' && mine) this.#forget(roomId);
      }
    }
    if (message.type === 'user_connect' && mine && message.user !== undefined) {
      this.#me = { ...message.user };
    }
    this.out.message(message);
  }

  /** True the first time a memo id is seen (the last MEMO_IDS_KEPT are remembered). */
  #firstSight(id: string): boolean {
    if (this.#memoIds.has(id)) return false;
    this.#memoIds.add(id);
    if (this.#memoIds.size > MEMO_IDS_KEPT) {
      this.#memoIds.delete(this.#memoIds.values().next().value as string);
    }
    return true;
  }

  #setCurrent(roomId: string | undefined): void {
    if (this.#current === roomId) return;
    this.#current = roomId;
    this.options.onCurrentRoom?.(roomId);
  }

  #forget(roomId: string): void {
    this.#rooms.delete(roomId);
    if (this.#current === roomId) this.#setCurrent([...this.#rooms.keys()].at(-1));
  }
}

function explain(reason: Socket.DisconnectReason): string {
  switch (reason) {
    case 'io server disconnect':
      return 'closed by the server';
    case 'transport close':
      return 'connection lost';
    case 'ping timeout':
      return 'the server stopped answering';
    case 'transport error':
      return 'connection error';
    default:
      return reason;
  }
}

/** The most telling text of a connect_error: a refusal's code, or the network error behind it. */
function detail(error: Error): string {
  const description = (error as Error & { description?: unknown }).description;
  if (description instanceof Error && description.message) return description.message;
  if (typeof description === 'object' && description !== null && 'message' in description) {
    const text = (description as { message: unknown }).message;
    if (typeof text === 'string' && text) return text;
  }
  return error.message;
}

import { Logger } from '@nestjs/common';
import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import { AuthService } from '../auth/auth.service.js';
import { AppConfig } from '../config/app-config.js';
import { toErrorBody } from '../contract/error-body.js';
import { AuthError, InvalidPayloadError } from '../contract/errors.js';
import {
  isClientEvent,
  type ChatMessage,
  type ClientEventName,
  type ErrorBody,
  type Reply,
  type UserRef,
} from '../contract/events.js';
import type { ChatServer, ChatSocket } from '../contract/sockets.js';
import { DeliveryService, userChannel } from '../delivery/delivery.service.js';
import { SlowConsumers } from '../delivery/slow-consumers.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Admission, type AdmissionRefusal } from './admission.js';
import { PAYLOAD_PARSERS, type PayloadLimits } from './chat.schemas.js';
import { ChatService } from './chat.service.js';
import { Sequencer } from './sequencer.js';

type Handlers = {
  [E in ClientEventName]: (user: UserRef, input: never) => unknown;
};

/** About what a list of messages takes on the wire: content, plus the rest of each record. */
function estimatedBytes(messages: readonly ChatMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += message.content.length + 256;
  return bytes;
}

/** ws's refusal of a frame over its maxPayload, as engine.io reports the close. */
function isPayloadTooLarge(description: unknown): boolean {
  const message = description instanceof Error ? description.message : String(description);
  return /max payload size exceeded/i.test(message);
}

/** Events waiting on one connection before it gets BUSY. */
const MAX_PENDING_PER_SOCKET = 256;

/**
 * The socket.io edge: authenticates the handshake, validates each payload against its
 * schema, routes it to one ChatService method in the connection's arrival order, and
 * answers with the contract's reply. It holds no chat state and makes no chat decisions.
 *
 * Events are bound per socket rather than with @SubscribeMessage so that the contract's
 * reply rules hold exactly: a payload is the one argument before the ack (an array is a
 * payload, not an argument list), unknown events get INVALID_PAYLOAD, and an event sent
 * without an ack gets its error as `chat:error`.
 */
@WebSocketGateway()
export class ChatGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  readonly #logger = new Logger(ChatGateway.name);
  readonly #limits: PayloadLimits;
  readonly #maxPacketBytes: number;
  readonly #handlers: Handlers;

  constructor(
    private readonly chat: ChatService,
    private readonly auth: AuthService,
    private readonly delivery: DeliveryService,
    private readonly metrics: MetricsService,
    private readonly admission: Admission,
    private readonly slowConsumers: SlowConsumers,
    config: AppConfig,
  ) {
    this.#limits = { maxMessageLength: config.maxMessageLength };
    this.#maxPacketBytes = config.maxHttpBufferSize;
    this.#handlers = {
      'room:list': (user) => chat.listRooms(user),
      'room:create': (user, input) => chat.createRoom(user, input),
      'room:join': (user, input) => chat.joinRoom(user, input),
      'room:leave': (user, input) => chat.leaveRoom(user, input),
      'room:invite': (user, input) => chat.invite(user, input),
      'room:kick': (user, input) => chat.kick(user, input),
      'room:mute': (user, input) => chat.mute(user, input),
      'room:message': (user, input) => chat.roomMessage(user, input),
      'room:history': (user, input) => chat.history(user, input),
      'private:message': (user, input) => chat.privateMessage(user, input),
      'memo:send': (user, input) => chat.memo(user, input),
      typing: (user, input) => chat.typing(user, input),
      'user:list': () => chat.listUsers(),
      'room:edit': (user, input) => chat.edit(user, input),
      'room:delete': (user, input) => chat.deleteMessage(user, input),
      'room:react': (user, input) => chat.react(user, input),
      'room:read': (user, input) => chat.markRead(user, input),
      'user:block': (user, input) => chat.block(user, input, true),
      'user:unblock': (user, input) => chat.block(user, input, false),
      'user:blocks': (user) => chat.blocks(user),
    };
  }

  afterInit(server: ChatServer): void {
    this.delivery.attach(server);
    this.slowConsumers.watch(() => server.sockets.sockets.values());
    // A connection's first handshake sees the request's headers; later ones on it do not.
    const addresses = new WeakMap<object, string>();
    server.use((socket, next) => {
      if (this.delivery.shuttingDown) return next(this.#refusal('SHUTTING_DOWN'));
      const { address: peer, headers } = socket.handshake;
      let address = addresses.get(socket.conn);
      if (address === undefined) {
        address = this.admission.addressOf(peer, headers);
        addresses.set(socket.conn, address);
      }
      // Counted before the token is even read: a storm costs as little as possible.
      const overRate = this.admission.admitAddress(address);
      if (overRate !== undefined) return next(this.#refusal(overRate));
      this.auth.authenticate(socket.handshake.auth).then(
        async (user) => {
          const tooMany = await this.admission.admitUser(user.id);
          if (tooMany !== undefined) return next(this.#refusal(tooMany));
          // Given back once, when the socket disconnects or its connection closes first.
          let held = true;
          const release = (): void => {
            if (held) this.admission.release(user.id);
            held = false;
            socket.off('disconnect', release);
            socket.conn.off('close', release);
          };
          socket.once('disconnect', release);
          socket.conn.once('close', release);
          // Gone while its token was being checked: its close already happened.
          if (socket.conn.readyState !== 'open') {
            release();
            return next(new Error('UNAUTHORIZED'));
          }
          socket.data.user = user;
          next();
        },
        (error: unknown) => {
          if (error instanceof AuthError) {
            this.#logger.debug(`handshake refused: ${error.code} (${error.reason})`);
            this.metrics.handshakeRefused(error.code);
            next(new Error(error.code));
          } else {
            this.#logger.error(`handshake failed: ${String(error)}`);
            next(new Error('UNAUTHORIZED'));
          }
        },
      );
    });
  }

  #refusal(code: AdmissionRefusal): Error {
    this.#logger.debug(`handshake refused: ${code}`);
    this.metrics.handshakeRefused(code);
    return new Error(code);
  }

  handleConnection(socket: ChatSocket): void {
    const user = socket.data.user;
    socket.join(userChannel(user.id));
    // Now, not queued: a disconnect already on its way must find the user connected, or a
    // late connect would bring back a user whose socket is gone (a ghost, online for ever).
    try {
      this.chat.connect(socket.id, user);
    } catch (error) {
      this.#logger.error(`connect of ${user.id} failed: closing the socket`, String(error));
      socket.disconnect(true);
      return;
    }
    // socket.io closes a connection whose packet passes MAX_HTTP_BUFFER_SIZE, silently.
    socket.conn.once('close', (_reason: string, description?: unknown) => {
      if (!isPayloadTooLarge(description)) return;
      this.metrics.packetTooLarge();
      this.#logger.warn(
        `socket ${socket.id} of user ${user.id} closed: a packet over MAX_HTTP_BUFFER_SIZE ` +
          `(${this.#maxPacketBytes} bytes)`,
      );
    });
    const sequencer = new Sequencer(MAX_PENDING_PER_SOCKET);
    // One listener for every event keeps per-connection memory small.
    socket.onAny((rawEvent: unknown, ...args: unknown[]) => {
      // socket.io passes a numeric event name through as a number.
      const event = String(rawEvent);
      const receivedAt = this.metrics.received(event);
      const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
      // Every event, unknown ones included, is answered in turn through this one chain:
      // a refusal of the sequencer itself (BUSY) is a reply too, never a stray rejection.
      void sequencer
        .run(() => {
          const handle = (): unknown =>
            isClientEvent(event) ? this.#handle(user, event, args) : this.#refuseUnknown(event);
          // A large reply this client asked for leaves before its next request is handled.
          const requested = this.slowConsumers.requestedPending(socket);
          return requested === undefined ? handle() : requested.then(handle);
        })
        .then(
          (data) => ({ ok: true as const, ...(data as object) }),
          (error: unknown) => ({ ok: false as const, error: this.#errorBody(event, error) }),
        )
        .then((reply) => this.#send(socket, event, ack, reply, receivedAt))
        .catch((error: unknown) => this.#logger.error(`reply to ${event} failed`, String(error)));
    });
  }

  handleDisconnect(socket: ChatSocket): void {
    const user = socket.data.user;
    if (user !== undefined) this.chat.disconnect(socket.id, user);
  }

  #handle(user: UserRef, event: ClientEventName, args: unknown[]): unknown {
    this.chat.touch(user);
    if (args.length > 1) throw new InvalidPayloadError('send one payload object');
    const input = PAYLOAD_PARSERS[event](args[0], this.#limits);
    return (this.#handlers[event] as (user: UserRef, input: unknown) => unknown)(user, input);
  }

  #refuseUnknown(event: string): never {
    throw new InvalidPayloadError(`unknown event ${JSON.stringify(event.slice(0, 64))}`);
  }

  /** The ack when there is one; otherwise only an error is sent, as chat:error. */
  #send(
    socket: ChatSocket,
    event: string,
    ack: unknown,
    reply: Reply<object>,
    receivedAt: number,
  ): void {
    this.metrics.replied(event, receivedAt, reply);
    if (typeof ack === 'function') {
      (ack as (reply: Reply<object>) => void)(reply);
      // Recovery pages and history are owed to the client, not a backlog it failed to read.
      const messages = (reply as { messages?: unknown }).messages;
      if (Array.isArray(messages)) {
        this.slowConsumers.noteRequested(socket, estimatedBytes(messages as ChatMessage[]));
      }
    } else if (!reply.ok) {
      socket.emit('chat:error', { event: event.slice(0, 64), ...reply.error });
    }
  }

  /** Any failure as the contract's error body; one the contract has no code for is logged. */
  #errorBody(event: string, error: unknown): ErrorBody {
    return toErrorBody(error, (kind, detail) =>
      this.#logger.error(`${event} failed with ${kind}`, detail),
    );
  }
}

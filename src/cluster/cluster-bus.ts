import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { toErrorBody } from '../contract/error-body.js';
import { BusyError, ChatError } from '../contract/errors.js';
import type { ErrorBody } from '../contract/events.js';
import { RedisConnection } from '../redis/redis.connection.js';
import { ClusterNode } from './cluster-node.js';

/**
 * The request reached no instance (PUBLISH counted no subscriber: the instance is gone): it
 * surely did not run, so it is safe to send again, elsewhere.
 */
export class UnreachableInstanceError extends BusyError {
  override readonly name = 'UnreachableInstanceError';
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} is not reachable: retry`);
  }
}

type Handler = (body: unknown, from: string) => unknown;

/** How often a request waiting for its answer checks its deadline and its target's lease. */
const WATCH_MS = 100;

type Envelope =
  | { t: 'req'; id: string; from: string; kind: string; body: unknown }
  | { t: 'res'; id: string; ok: true; body: unknown }
  | { t: 'res'; id: string; ok: false; error: ErrorBody }
  | { t: 'note'; from: string; kind: string; body: unknown };

interface Waiting {
  resolve(body: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Messages between the instances of a cluster over Redis pub/sub, under REDIS_PREFIX: a
 * request to one instance with its reply (room commands forwarded to a room's owner), and
 * notes to every instance. Each instance listens on a channel of its own and on one for all.
 * With Redis down every request fails at once with BUSY: nothing waits in a queue.
 */
@Injectable()
export class ClusterBus implements OnApplicationShutdown {
  readonly #logger = new Logger(ClusterBus.name);
  readonly #prefix: string;
  readonly #handlers = new Map<string, Handler>();
  readonly #listeners = new Map<string, Array<(body: unknown, from: string) => void>>();
  readonly #waiting = new Map<string, Waiting>();
  #started = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly node: ClusterNode,
    config: AppConfig,
  ) {
    this.#prefix = `${config.redisPrefix}cluster:`;
  }

  /** Answers requests of `kind` with what `handler` returns (or its error, as a ChatError). */
  handle(kind: string, handler: Handler): void {
    this.#handlers.set(kind, handler);
  }

  /** Hears the notes of `kind` that other instances send. */
  on(kind: string, listener: (body: unknown, from: string) => void): void {
    const list = this.#listeners.get(kind) ?? [];
    list.push(listener);
    this.#listeners.set(kind, list);
  }

  async start(): Promise<void> {
    if (!this.node.enabled || this.#started) return;
    this.#started = true;
    const subscriber = this.redis.busSubscriber;
    subscriber.on('message', (channel: string, raw: string) => this.#receive(channel, raw));
    // After an outage ioredis subscribes again by itself.
    await subscriber.subscribe(this.#channel(this.node.id), this.#channel('all'));
  }

  /**
   * Sends a request to `instanceId` and resolves with its answer. Rejects with BUSY when Redis
   * is down, UnreachableInstanceError when nobody listens on that instance's channel (it is
   * gone: nothing ran), BUSY when no answer comes in time or the instance's lease runs out
   * while waiting (it may have run: only the sender's clientMsgId makes a retry safe), or the
   * handler's ChatError.
   */
  async request<T>(instanceId: string, kind: string, body: unknown, timeoutMs: number): Promise<T> {
    if (!this.redis.ready) throw new BusyError('the cluster is not reachable (Redis): retry');
    const id = randomUUID();
    const envelope: Envelope = { t: 'req', id, from: this.node.id, kind, body };
    const answered = new Promise<unknown>((resolve, reject) => {
      const started = performance.now();
      // Checked as time passes: a timeout, or the instance's lease running out (frozen or
      // cut off: no answer will come). Either way it may have run the request before it
      // stopped answering, so the caller must not run it elsewhere on its own.
      const timer = setInterval(() => {
        const dead = !this.node.isAlive(instanceId);
        if (!dead && performance.now() - started < timeoutMs) return;
        clearInterval(timer);
        this.#waiting.delete(id);
        reject(
          new BusyError(
            dead
              ? `instance ${instanceId} stopped answering (its lease ran out): retry`
              : `instance ${instanceId} did not answer in time: retry`,
          ),
        );
      }, WATCH_MS);
      this.#waiting.set(id, { resolve, reject, timer });
    });
    let receivers: number;
    try {
      receivers = await this.redis.commands.publish(
        this.#channel(instanceId),
        JSON.stringify(envelope),
      );
    } catch {
      receivers = -1;
    }
    if (receivers <= 0) {
      const waiting = this.#waiting.get(id);
      clearInterval(waiting?.timer);
      this.#waiting.delete(id);
      if (receivers === 0) throw new UnreachableInstanceError(instanceId);
      throw new BusyError('the cluster is not reachable (Redis): retry');
    }
    return (await answered) as T;
  }

  /** Tells every other instance (fire and forget: lost while Redis is down). */
  notify(kind: string, body: unknown): void {
    if (!this.node.enabled || !this.redis.ready) return;
    const envelope: Envelope = { t: 'note', from: this.node.id, kind, body };
    this.redis.commands
      .publish(this.#channel('all'), JSON.stringify(envelope))
      .catch((error: unknown) => this.#logger.debug(`note ${kind} not sent: ${String(error)}`));
  }

  /**
   * After the mailboxes drained (requests in flight meanwhile got their answers: the owner runs
   * them all the same): whatever still waits can no longer hear back.
   */
  onApplicationShutdown(): void {
    for (const [id, waiting] of this.#waiting) {
      clearInterval(waiting.timer);
      waiting.reject(new BusyError('the server is shutting down'));
      this.#waiting.delete(id);
    }
  }

  #channel(name: string): string {
    return `${this.#prefix}${name}`;
  }

  #receive(channel: string, raw: string): void {
    if (!channel.startsWith(this.#prefix)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
    } catch {
      return;
    }
    if (envelope.t === 'res') {
      const waiting = this.#waiting.get(envelope.id);
      if (waiting === undefined) return;
      this.#waiting.delete(envelope.id);
      clearInterval(waiting.timer);
      if (envelope.ok) waiting.resolve(envelope.body);
      else waiting.reject(new ChatError(envelope.error.code, envelope.error.message));
    } else if (envelope.t === 'req') {
      void this.#answer(envelope);
    } else if (envelope.from !== this.node.id) {
      for (const listener of this.#listeners.get(envelope.kind) ?? []) {
        try {
          listener(envelope.body, envelope.from);
        } catch (error) {
          this.#logger.error(`note ${envelope.kind} failed: ${String(error)}`);
        }
      }
    }
  }

  async #answer(request: Extract<Envelope, { t: 'req' }>): Promise<void> {
    let reply: Envelope;
    try {
      const handler = this.#handlers.get(request.kind);
      if (handler === undefined) throw new Error(`no handler for ${request.kind}`);
      const body = await handler(request.body, request.from);
      reply = { t: 'res', id: request.id, ok: true, body: body ?? null };
    } catch (error) {
      const body = toErrorBody(error, (kind, detail) =>
        this.#logger.error(`${request.kind} from ${request.from} failed with ${kind}`, detail),
      );
      reply = { t: 'res', id: request.id, ok: false, error: body };
    }
    try {
      // Not once RedisConnection has closed its clients (a shutdown): the asker gives up.
      if (!this.redis.ready) throw new Error('Redis is not connected');
      await this.redis.commands.publish(this.#channel(request.from), JSON.stringify(reply));
    } catch (error) {
      this.#logger.debug(`reply to ${request.from} not sent: ${String(error)}`);
    }
  }
}

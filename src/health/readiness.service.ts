import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { RedisConnection } from '../redis/redis.connection.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';

/**
 * Longest a backend may take to answer a readiness probe before it counts as down (within
 * Kubernetes' default probe timeout of 1 s).
 */
export const READY_CHECK_TIMEOUT_MS = 900;

interface Backend {
  /** The key that names it in /ready's answer: the store's kind, or 'redis'. */
  name: string;
  ping(): Promise<void>;
}

/**
 * What GET /ready checks: every configured backend answers (the message store, Redis when
 * REDIS_URL is set), and the service is not shutting down.
 */
@Injectable()
export class ReadinessService {
  readonly #backends: Backend[];
  #draining = false;

  constructor(
    private readonly indicator: HealthIndicatorService,
    @Inject(MESSAGE_STORE) store: MessageStore,
    redis: RedisConnection,
  ) {
    this.#backends = [{ name: store.kind, ping: () => store.ping() }];
    if (redis.enabled) this.#backends.push({ name: 'redis', ping: () => redis.ping() });
  }

  /** From the start of a graceful shutdown on, /ready answers 503 (`server`). */
  markDraining(): void {
    this.#draining = true;
  }

  checks(): HealthIndicatorFunction[] {
    return [
      () =>
        this.#draining
          ? this.indicator.check('server').down({ message: 'shutting down' })
          : this.indicator.check('server').up(),
      ...this.#backends.map(
        ({ name, ping }) =>
          () =>
            this.indicator
              .check(name)
              .attempt(() => ping())
              .withTimeout(READY_CHECK_TIMEOUT_MS),
      ),
    ];
  }
}

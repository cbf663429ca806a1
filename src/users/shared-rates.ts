import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { RateLimitedError } from '../contract/errors.js';

/** The rates a user's actions are counted against. */
export type RateKind = 'send' | 'activity' | 'moderation';

/** A burst and a sustained rate per second. */
export interface RateLimit {
  burst: number;
  perSecond: number;
}

const WHAT: Record<RateKind, string> = {
  send: 'messages',
  activity: 'joins, leaves, invitations and typing',
  moderation: 'kicks and mutes',
};

/**
 * Cluster mode: a user's rates counted across every instance, in Redis (rate-limiter-flexible,
 * keys under REDIS_PREFIX). Each limit allows `burst` at once and `burst` again per
 * burst/perSecond seconds, so `perSecond` sustained. While Redis is down an in-memory limiter
 * of the same limits counts on each instance instead (the insurance), so sends never wait on it.
 */
export class SharedRates {
  readonly #limiters: Record<RateKind, RateLimiterRedis>;

  constructor(redis: Redis, prefix: string, limits: Record<RateKind, RateLimit>) {
    const make = (kind: RateKind): RateLimiterRedis => {
      const { burst, perSecond } = limits[kind];
      const options = { points: burst, duration: Math.max(1, Math.ceil(burst / perSecond)) };
      return new RateLimiterRedis({
        ...options,
        storeClient: redis,
        keyPrefix: `${prefix}rate:${kind}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(options),
      });
    };
    this.#limiters = {
      send: make('send'),
      activity: make('activity'),
      moderation: make('moderation'),
    };
  }

  /** Takes one token of the user's `kind`: RATE_LIMITED when there is none. */
  async take(userId: string, kind: RateKind): Promise<void> {
    try {
      await this.#limiters[kind].consume(userId);
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) {
        throw new RateLimitedError(refusal.msBeforeNext, WHAT[kind]);
      }
      throw refusal;
    }
  }
}

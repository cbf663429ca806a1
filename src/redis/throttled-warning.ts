import type { Logger } from '@nestjs/common';

/** A Redis outage reports an error on every reconnect attempt: one line every 5 s is enough. */
export const REDIS_ERROR_LOG_INTERVAL_MS = 5000;

/** Logs a warning at most once per interval; the ones in between are dropped. */
export class ThrottledWarning {
  #lastAt = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = REDIS_ERROR_LOG_INTERVAL_MS,
  ) {}

  warn(message: string, now = Date.now()): void {
    if (now - this.#lastAt < this.intervalMs) return;
    this.#lastAt = now;
    this.logger.warn(message);
  }
}

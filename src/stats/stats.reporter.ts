import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Actor } from '../dispatcher/index.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { UsersService } from '../users/users.service.js';

/** The seed's stats heartbeat: users, rooms and jobs every STATS_INTERVAL_MS (0 = off). */
@Injectable()
export class StatsReporter extends Actor implements OnApplicationBootstrap {
  readonly #logger = new Logger(StatsReporter.name);
  #lastExecuted = 0;

  constructor(
    dispatcher: DispatcherService,
    private readonly users: UsersService,
    private readonly rooms: RoomsService,
    private readonly config: AppConfig,
  ) {
    super(dispatcher, { name: 'stats' });
  }

  onApplicationBootstrap(): void {
    const interval = this.config.statsIntervalMs;
    if (interval > 0) this.every(interval, () => this.#report(interval));
  }

  #report(intervalMs: number): void {
    const metrics = this.dispatcher.metrics(1);
    const jobs = metrics.jobsExecuted - this.#lastExecuted;
    this.#lastExecuted = metrics.jobsExecuted;
    const perSecond = Math.round((jobs * 1000) / intervalMs);
    this.#logger.log(
      `users ${this.users.sessions}, rooms ${this.rooms.count}, ` +
        `jobs ${metrics.jobsExecuted} (+${perSecond}/s), failed ${metrics.jobsFailed}, ` +
        `dropped ${metrics.jobsDropped}, queued ${metrics.jobsQueued}`,
    );
  }
}

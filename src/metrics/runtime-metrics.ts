import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DeliveryService } from '../delivery/delivery.service.js';
import { SlowConsumers } from '../delivery/slow-consumers.js';
import type { DispatcherMetrics } from '../dispatcher/index.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import { UsersService } from '../users/users.service.js';
import { MetricsService } from './metrics.service.js';

/**
 * Figures the service already keeps (sockets, directories, the actor runtime), read when
 * /metrics is scraped rather than counted again on the hot path; and the store's batches.
 */
@Injectable()
export class RuntimeMetrics implements OnModuleInit {
  /** One dispatcher snapshot per scrape, shared by the metrics below. */
  #snapshot: DispatcherMetrics | undefined;

  constructor(
    private readonly metrics: MetricsService,
    private readonly dispatcher: DispatcherService,
    private readonly users: UsersService,
    private readonly rooms: RoomsService,
    private readonly delivery: DeliveryService,
    private readonly slowConsumers: SlowConsumers,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
  ) {}

  onModuleInit(): void {
    const { metrics } = this;
    metrics.gauge('chat_sockets_connected', 'Open socket.io connections on this instance.', () => {
      return this.delivery.connectedSockets;
    });
    metrics.gauge('chat_users_online', 'Users online (with a session) on this instance.', () => {
      return this.users.sessions;
    });
    metrics.gauge('chat_rooms', 'Open rooms.', () => this.rooms.count);
    metrics.counter(
      'chat_slow_consumers_cut_total',
      'Sockets closed because their unsent backlog passed MAX_OUTBOUND_BUFFER_BYTES.',
      () => this.slowConsumers.cutOff,
    );

    const runtime = (): DispatcherMetrics => this.#runtime();
    metrics.gauge(
      'chat_mailbox_depth_max',
      'Jobs waiting in the deepest actor mailbox.',
      () => runtime().deepestMailboxes[0]?.depth ?? 0,
    );
    metrics.gauge(
      'chat_mailbox_depth_total',
      'Jobs waiting in all actor mailboxes.',
      () => runtime().jobsQueued,
    );
    metrics.gauge(
      'chat_delayed_jobs',
      'Delayed jobs (timers) waiting to be due.',
      () => runtime().delayedPending,
    );
    metrics.counter(
      'chat_jobs_executed_total',
      'Actor jobs run (failed ones included).',
      () => runtime().jobsExecuted,
    );
    metrics.counter(
      'chat_jobs_failed_total',
      'Actor jobs that threw or rejected.',
      () => runtime().jobsFailed,
    );
    metrics.counter(
      'chat_jobs_dropped_total',
      'Jobs refused by a full mailbox (the sender got BUSY).',
      () => runtime().jobsDropped,
    );
    metrics.counter(
      'chat_worker_loop_restarts_total',
      'Crashed worker loops of the actor runtime that were restarted.',
      () => runtime().loopRestarts,
    );
    metrics.gauge(
      'chat_worker_loops_down',
      'Worker loops down for good after too many restarts.',
      () => runtime().loopsDown,
    );

    this.store.observeWrites?.((size, commitMs, failed) =>
      metrics.storeBatch(size, commitMs, failed),
    );
  }

  #runtime(): DispatcherMetrics {
    if (this.#snapshot === undefined) {
      this.#snapshot = this.dispatcher.metrics(1);
      // Every metric's collect() runs in the same synchronous stretch of one scrape.
      queueMicrotask(() => (this.#snapshot = undefined));
    }
    return this.#snapshot;
  }
}

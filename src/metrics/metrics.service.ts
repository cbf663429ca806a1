import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import {
  CLIENT_EVENTS,
  ERROR_CODES,
  HANDSHAKE_REFUSALS,
  isClientEvent,
  MESSAGE_TYPES,
  type ClientEventName,
  type HandshakeRefusal,
  type MessageType,
  type Reply,
} from '../contract/events.js';
import { FastHistogram, LabelledCounter } from './hot-path-metrics.js';

type InEvent = ClientEventName | 'unknown';
type OutType = MessageType | 'typing';
/** Messages whose server timestamp is the moment the server accepted them. */
type LiveType = 'room_chat' | 'private_chat';

const IN_EVENTS: readonly InEvent[] = [...CLIENT_EVENTS, 'unknown'];
const OUT_TYPES: readonly OutType[] = [...MESSAGE_TYPES, 'typing'];
const LIVE_TYPES: readonly LiveType[] = ['room_chat', 'private_chat'];

/** Seconds: from well under a millisecond (memory store) to a stuck disk. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

let processMetrics: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, handles, GC, event-loop delay as
 * nodejs_eventloop_lag_*) describe the process, so they are collected once per process, in a
 * registry of their own (not prom-client's global one): every app in it shows the same.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * The service's Prometheus metrics, in a registry of its own (one per app, so several apps
 * in one process do not clash), plus the process's default metrics. Code where things
 * happen calls the cheap recording methods below; figures that already exist elsewhere
 * (dispatcher, directories, sockets) are read when /metrics is scraped, through `gauge` and
 * `counter`.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly #in = new LabelledCounter(
    this.registry,
    'chat_messages_in_total',
    'Client events received, by event name (unknown names count as "unknown").',
    'event',
    IN_EVENTS,
  );
  readonly #out = new LabelledCounter(
    this.registry,
    'chat_messages_out_total',
    'Messages sent to clients, by type: one per broadcast, however many sockets it reaches.',
    'type',
    OUT_TYPES,
  );
  readonly #deliveries = new LabelledCounter(
    this.registry,
    'chat_deliveries_total',
    'Socket writes of messages on this instance, by type: a broadcast counts once per socket.',
    'type',
    OUT_TYPES,
  );
  readonly #rejected = new LabelledCounter(
    this.registry,
    'chat_rejected_total',
    'Client events answered with an error, by error code.',
    'code',
    ERROR_CODES,
  );
  readonly #refusedHandshakes = new LabelledCounter(
    this.registry,
    'chat_handshakes_refused_total',
    'Connections refused at the socket.io handshake, by connect_error code.',
    'code',
    HANDSHAKE_REFUSALS,
  );
  readonly #ackLatency = new FastHistogram(
    this.registry,
    'chat_ack_latency_seconds',
    'From a client event arriving to its reply being written, by event name.',
    LATENCY_BUCKETS,
    { name: 'event', values: IN_EVENTS },
  );
  readonly #deliveryLatency = new FastHistogram(
    this.registry,
    'chat_delivery_latency_seconds',
    'From the server accepting a message (its timestamp, ms resolution) to its broadcast.',
    LATENCY_BUCKETS,
    { name: 'type', values: LIVE_TYPES },
  );
  readonly #storeCommit = new FastHistogram(
    this.registry,
    'chat_store_commit_seconds',
    'Time to commit one group-committed batch of writes (transaction and fsync).',
    LATENCY_BUCKETS,
  );
  readonly #storeBatchSize = new FastHistogram(
    this.registry,
    'chat_store_batch_size',
    'Writes per committed batch.',
    BATCH_SIZE_BUCKETS,
  );
  readonly #storeFailures = new Counter({
    name: 'chat_store_write_failures_total',
    help: 'Writes the store refused or failed to commit.',
    registers: [this.registry],
  });

  // ---- recording (hot path) ------------------------------------------------------------

  /** A client event arrived; returns the time to hand to `replied`. */
  received(event: string): number {
    this.#in.inc(isClientEvent(event) ? event : 'unknown');
    return performance.now();
  }

  /** The reply to an event that arrived at `receivedAt` was written. */
  replied(event: string, receivedAt: number, reply: Reply<object>): void {
    const name = isClientEvent(event) ? event : 'unknown';
    this.#ackLatency.observe((performance.now() - receivedAt) / 1000, name);
    if (!reply.ok) this.#rejected.inc(reply.error.code);
  }

  readonly #tooLarge = new Counter({
    name: 'chat_packets_too_large_total',
    help: 'Connections closed because a packet passed MAX_HTTP_BUFFER_SIZE (socket.io rule).',
    registers: [this.registry],
  });

  /** A connection was closed for a packet over MAX_HTTP_BUFFER_SIZE. */
  packetTooLarge(): void {
    this.#tooLarge.inc();
  }

  /** A connection was refused at the handshake with `code` (its connect_error message). */
  handshakeRefused(code: HandshakeRefusal): void {
    this.#refusedHandshakes.inc(code);
  }

  /** One broadcast of `message` reached `sockets` local sockets. */
  sent(message: { type: MessageType; timestamp: string }, sockets: number): void {
    this.#out.inc(message.type);
    this.#deliveries.inc(message.type, sockets);
    if (message.type === 'room_chat' || message.type === 'private_chat') {
      const ms = Date.now() - Date.parse(message.timestamp);
      this.#deliveryLatency.observe(Math.max(0, ms) / 1000, message.type);
    }
  }

  typingSent(sockets: number): void {
    this.#out.inc('typing');
    this.#deliveries.inc('typing', sockets);
  }

  /** One batch of store writes committed (see MessageStore.observeWrites). */
  storeBatch(size: number, commitMs: number, failed: number): void {
    this.#storeCommit.observe(commitMs / 1000);
    this.#storeBatchSize.observe(size);
    if (failed > 0) this.#storeFailures.inc(failed);
  }

  // ---- read at scrape time ---------------------------------------------------------------

  /** A gauge whose value is read when scraped. */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter that mirrors an ever-growing count kept elsewhere, read when scraped. */
  counter(name: string, help: string, read: () => number): void {
    let exported = 0;
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        if (value > exported) this.inc(value - exported);
        exported = value;
      },
    });
  }

  /** The Prometheus text exposition of every metric: the process's, then the app's. */
  async scrape(): Promise<string> {
    const [process, app] = await Promise.all([
      processRegistry().metrics(),
      this.registry.metrics(),
    ]);
    return process + app;
  }
}

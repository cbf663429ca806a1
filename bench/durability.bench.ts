/**
 * What durability costs: the same open-loop load against the service on the in-memory
 * store and on SQLite (and PostgreSQL with --postgres URL), each a separate server
 * process, measured in the same run. Prints ack latency (send to ack = durable) and
 * throughput, and the durable stores' figures as ratios of the in-memory run.
 *
 *   npm run bench:durability [-- --rate 1000 --seconds 10 --clients 50 --rooms 5 --json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/contract/events.js';
import { ServiceProcess } from '../scripts/lib/service-process.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '50' },
    rooms: { type: 'string', default: '5' },
    postgres: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CLIENTS = Number(args.clients);
const ROOMS = Number(args.rooms);
const WARMUP_SECONDS = 2;

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

interface RunResult {
  store: string;
  offeredPerSec: number;
  ackedPerSec: number;
  errors: number;
  unacked: number;
  ackMs: { p50: number; p95: number; p99: number; max: number };
}

function log(line: string): void {
  if (!args.json) process.stderr.write(`${line}\n`);
}

async function run(store: string, env: Record<string, string>): Promise<RunResult> {
  log(`\n${store}: starting server`);
  const server = new ServiceProcess({
    env: { RATE_LIMIT_BURST: '1000000', RATE_LIMIT_PER_SECOND: '1000000', ...env },
  });
  const url = await server.start();
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const socket: Client = io(url, {
      auth: { userId: `bench${i}` },
      transports: ['websocket'],
      forceNew: true,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const reply = await socket.emitWithAck('room:join', { roomId: `bench-${i % ROOMS}` });
    if (!reply.ok && reply.error.code === 'NOT_FOUND') {
      await socket.emitWithAck('room:create', { roomId: `bench-${i % ROOMS}` });
    }
    clients.push(socket);
  }
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let acked = 0;
  let errors = 0;
  let sent = 0;
  let measuredSent = 0;
  let outstanding = 0;
  const started = performance.now();
  const measureFrom = started + WARMUP_SECONDS * 1000;
  const end = measureFrom + SECONDS * 1000;
  const intervalMs = 1000 / RATE;
  let next = started;
  let lastReport = started;
  // Open loop: sends go out on schedule whether or not earlier ones were answered.
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      while (next <= now && next < end) {
        const client = clients[sent % CLIENTS];
        const sentAt = performance.now();
        const measured = sentAt >= measureFrom;
        sent++;
        if (measured) measuredSent++;
        outstanding++;
        client
          .timeout(30_000)
          .emitWithAck('room:message', {
            roomId: `bench-${((sent - 1) % CLIENTS) % ROOMS}`,
            content: `payload ${sent} ${'x'.repeat(64)}`,
          })
          .then(
            (reply) => {
              outstanding--;
              if (!measured) return;
              if (!reply.ok) {
                errors++;
                return;
              }
              acked++;
              histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
            },
            () => {
              outstanding--;
              if (measured) errors++;
            },
          );
        next += intervalMs;
      }
      if (now - lastReport >= 1000) {
        lastReport = now;
        const phase = now < measureFrom ? 'warm-up' : 'measuring';
        const elapsed = Math.max(0, Math.min(SECONDS, (now - measureFrom) / 1000));
        const bar = '#'.repeat(Math.round((elapsed / SECONDS) * 30)).padEnd(30, '.');
        log(
          `  [${bar}] ${phase} ${elapsed.toFixed(0)}/${SECONDS}s sent ${sent} acked ${acked} in flight ${outstanding}`,
        );
      }
      if (now >= end && outstanding === 0) done();
      else if (now >= end + 30_000) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  for (const client of clients) client.disconnect();
  await server.stop('SIGTERM');
  const ms = (percentile: number): number =>
    +(histogram.getValueAtPercentile(percentile) / 1000).toFixed(2);
  return {
    store,
    offeredPerSec: Math.round(measuredSent / SECONDS),
    ackedPerSec: Math.round(acked / SECONDS),
    errors,
    unacked: measuredSent - acked - errors,
    ackMs: { p50: ms(50), p95: ms(95), p99: ms(99), max: +(histogram.maxValue / 1000).toFixed(2) },
  };
}

async function main(): Promise<void> {
  log(
    `durability benchmark: ${RATE} msg/s offered by ${CLIENTS} clients in ${ROOMS} rooms, ${SECONDS}s measured after ${WARMUP_SECONDS}s warm-up`,
  );
  const results: RunResult[] = [];
  results.push(await run('memory', { STORE: 'memory' }));
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-bench-'));
  try {
    results.push(await run('sqlite', { STORE: 'sqlite', DATA_DIR: dataDir }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (args.postgres) {
    const schema = `bench_${process.pid}`;
    results.push(
      await run('postgres', {
        STORE: 'postgres',
        DATABASE_URL: args.postgres,
        DATABASE_SCHEMA: schema,
      }),
    );
    const { PostgresStore } = await import('../src/store/postgres/postgres.store.js');
    const cleanup = new PostgresStore({
      url: args.postgres,
      schema,
      historyMaxPerRoom: 1,
      sendTtlMs: 1,
    });
    await cleanup.dropSchema();
    await cleanup.close();
  }
  const baseline = results[0];
  if (args.json) {
    console.log(
      JSON.stringify(
        { rate: RATE, seconds: SECONDS, clients: CLIENTS, rooms: ROOMS, results },
        null,
        2,
      ),
    );
    return;
  }
  console.log(
    '\n| store | offered msg/s | acked msg/s | vs memory | ack p50 ms | p95 | p99 | max | errors | unacked |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const ratio = (r.ackedPerSec / baseline.ackedPerSec).toFixed(2);
    console.log(
      `| ${r.store} | ${r.offeredPerSec} | ${r.ackedPerSec} | ${ratio}x | ${r.ackMs.p50} | ${r.ackMs.p95} | ${r.ackMs.p99} | ${r.ackMs.max} | ${r.errors} | ${r.unacked} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

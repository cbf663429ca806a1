/**
 * Load generator: the seed's network simulator grown up. N socket.io clients (this
 * process) against the service (a separate process, SQLite store, durability on): each
 * client joins one of R rooms and sends at a fixed rate, 10% of it private messages.
 * Every sent message is accounted for at every recipient.
 *
 *   npm run bench                                   # both scenarios: 10 rooms, one-room fan-out
 *   npm run bench -- --scenario fanout              # 1,000 clients in one room, 20,000 deliveries/s
 *   npm run bench -- --clients 100 --rooms 1        # a load of your own (one scenario)
 *   npm run bench -- --clients 5000 --idle          # memory per idle connection
 *   npm run bench -- --clients 15000 --idle --rooms 0   # connections only, no rooms
 *   npm run bench -- --baseline                     # same load on bare socket.io, as ratios
 *   npm run bench -- --baseline --rounds 3          # alternate 3 times, report medians
 *   npm run bench -- --instances 2                  # a cluster of 2 vs 1 instance, on PostgreSQL
 *   npm run bench -- --scenario rooms --reads 1     # the same chat with room:read 1/s per client
 *   npm run bench -- --json                         # machine-readable
 *   npm run bench -- --node24-work /tmp/actor-chat-node24   # also on Node 24 (scripts/ci/node24.sh)
 *   npm run bench -- --scenario fanout --server-args="--cpu-prof --cpu-prof-dir=prof"
 *                                                   # node flags for the servers (a profile)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { io, type Socket } from 'socket.io-client';
import type {
  ChatMessage,
  ClientToServerEvents,
  Reply,
  ServerToClientEvents,
} from '../src/contract/events.js';
import { ServiceProcess } from '../scripts/lib/service-process.js';

const { values: args } = (() => {
  try {
    return parseArgs({
      options: {
        // rooms (1,000 clients in 10 rooms), fanout (1,000 in one room) or all; a load given with
        // --clients/--rooms/--rate/--private-ratio/--idle is one scenario of its own.
        scenario: { type: 'string' },
        clients: { type: 'string' },
        rooms: { type: 'string' },
        rate: { type: 'string' }, // messages a second per client
        seconds: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '3' },
        'private-ratio': { type: 'string' },
        idle: { type: 'boolean', default: false },
        rounds: { type: 'string', default: '1' },
        baseline: { type: 'boolean', default: false },
        instances: { type: 'string', default: '1' },
        postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
        redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
        json: { type: 'boolean', default: false },
        // A Node 24 copy as scripts/ci/node24.sh leaves it (NODE24_WORK: bin/node, app/ built with
        // its own node_modules): the service runs on it too, as one more target of the same run.
        'node24-work': { type: 'string' },
        // Node flags for every server process, e.g. "--cpu-prof --cpu-prof-dir=prof".
        'server-args': { type: 'string', default: '' },
        // room:read per client a second: the service again with every client marking read.
        reads: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(
      `${(error as Error).message}\n(npm run bench -- --help lists the options)\n`,
    );
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`npm run bench -- [options]   (the README's Benchmarks section has more)
  --scenario rooms|fanout|all   which load (default all: 10 rooms, then one-room fan-out)
  --clients N --rooms R --rate M --private-ratio P
                                a load of your own: N clients in R rooms, M msg/s each
  --idle                        only connect (memory per connection); --rooms 0: no join
  --seconds S --warmup W        measured window and warm-up (default 10 and 3)
  --baseline                    the same load against plain socket.io, ratios ours / it
  --rounds N                    alternate the targets N times, report medians
  --reads N                     the service again with N room:read per client a second
  --instances N                 N instances on Redis and PostgreSQL (--redis, --postgres)
  --node24-work DIR             the service on Node 24 too (scripts/ci/node24.sh's copy)
  --server-args "FLAGS"         node flags for every server, e.g. "--cpu-prof"
  --json                        JSON instead of tables
`);
  process.exit(0);
}

/** One load: the same for every target. */
interface Scenario {
  name: string;
  clients: number;
  rooms: number;
  /** Messages a second per client (0 when idle). */
  rate: number;
  privateRatio: number;
  idle: boolean;
}

const PRESETS: Record<string, Scenario> = {
  // ~27,000 deliveries/s: 300 msg/s, 10% of them private, the rest to ~100 members each
  // (at 0.5 msg/s, 45,000/s, the one-process load generator saturates its core here).
  rooms: { name: '10 rooms', clients: 1000, rooms: 10, rate: 0.3, privateRatio: 0.1, idle: false },
  // 20,000 deliveries/s: 20 msg/s, each to all 1,000 members of one room.
  fanout: {
    name: 'one-room fan-out',
    clients: 1000,
    rooms: 1,
    rate: 0.02,
    privateRatio: 0,
    idle: false,
  },
};

function scenariosOf(): Scenario[] {
  const custom =
    args.clients !== undefined ||
    args.rooms !== undefined ||
    args.rate !== undefined ||
    args['private-ratio'] !== undefined ||
    args.idle;
  if (custom) {
    const clients = Number(args.clients ?? 1000);
    const rooms = Number(args.rooms ?? 10);
    return [
      {
        name: args.idle ? `${clients} idle` : `${clients} clients, ${rooms} rooms`,
        clients,
        rooms,
        rate: args.idle ? 0 : Number(args.rate ?? 0.5),
        privateRatio: Number(args['private-ratio'] ?? 0.1),
        idle: args.idle,
      },
    ];
  }
  const wanted = args.scenario ?? 'all';
  if (wanted === 'all') return Object.values(PRESETS);
  const preset = PRESETS[wanted];
  if (preset === undefined) {
    console.error(`--scenario ${wanted}: one of ${Object.keys(PRESETS).join(', ')}, all`);
    process.exit(2);
  }
  return [preset];
}

const SCENARIOS = scenariosOf();
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const ROUNDS = Math.max(1, Number(args.rounds));
const CONNECT_CONCURRENCY = 250;
const INSTANCES = Math.max(1, Number(args.instances));
if (SCENARIOS.some((scenario) => scenario.rooms < 1 && !scenario.idle)) {
  console.error('--rooms 0 (connections only) needs --idle');
  process.exit(2);
}
/** The generator is the bottleneck past this share of its one core: the run is unreliable. */
const GENERATOR_BUSY = 0.85;
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Target {
  name: string;
  /** The node binary; default this one. */
  node?: string;
  script: string;
  env: Record<string, string>;
  /** Processes of the target, one cluster; clients are spread over them. */
  instances?: number;
  /** The service needs its rooms created first; the bare server makes them on join. */
  createsRooms: boolean;
  /** room:read a second per client, each with the latest seq it has seen (--reads). */
  readsPerClient?: number;
}

export interface LoadResult {
  target: string;
  scenario: string;
  clients: number;
  rooms: number;
  sentPerSec: number;
  deliveriesPerSec: number;
  expectedDeliveries: number;
  receivedDeliveries: number;
  deliveryRatio: number;
  missing: number;
  errors: number;
  connectErrors: number;
  disconnects: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  serverCpuUsPerDelivery: number | null;
  /** Write system calls and bytes the server made per delivery (sockets and store alike). */
  serverWritesPerDelivery: number | null;
  serverBytesPerDelivery: number | null;
  serverRssMb: number;
  /** Retained RSS after start, before any client (after a full GC). */
  serverRssStartMb: number;
  memoryPerConnectionKb: number;
  /** The load generator's own CPU while measuring, as a share of its one core. */
  generatorCpu: number;
  /** room:read acknowledged a second in the measured window (0 without --reads). */
  readsPerSec: number;
  /** The generator, not the server, was the bottleneck: the figures understate the server. */
  unreliable: boolean;
}

function progress(line: string): void {
  if (!args.json) process.stderr.write(`${line}\n`);
}

function bar(done: number, total: number): string {
  const filled = total === 0 ? 30 : Math.round((done / total) * 30);
  return `[${'#'.repeat(filled).padEnd(30, '.')}]`;
}

// ---- server process ---------------------------------------------------------------------

interface ServerHandle {
  url: string;
  pid: number;
  /** RSS in bytes after a full garbage collection in the server (bench/gc-probe.cjs). */
  retainedRss(): Promise<number>;
  stop(): Promise<number | null>;
}

/** The target's processes: several when it is a cluster. */
async function startServers(target: Target, clients: number): Promise<ServerHandle[]> {
  return Promise.all(
    Array.from({ length: target.instances ?? 1 }, () => startServer(target, clients)),
  );
}

async function startServer(target: Target, clients: number): Promise<ServerHandle> {
  const service = new ServiceProcess({
    command: target.node ?? process.execPath,
    args: [
      ...(args['server-args'] ?? '').split(' ').filter((arg) => arg !== ''),
      '--expose-gc',
      '--require',
      './bench/gc-probe.cjs',
      target.script,
    ],
    env: { LOG_LEVEL: 'info', ...target.env },
  });
  const url = await service.start();
  const pid = service.pid as number;
  const retainedRss = async (): Promise<number> => {
    const seen = (service.log.match(/GC-PROBE/g) ?? []).length;
    service.signal('SIGUSR2');
    for (let i = 0; i < 200; i++) {
      const reports = [...service.log.matchAll(/GC-PROBE rss=(\d+)/g)];
      if (reports.length > seen) return Number(reports[reports.length - 1][1]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return rssBytes([pid]);
  };
  return { url, pid, retainedRss, stop: () => service.stop('SIGTERM', 30_000 + clients * 5) };
}

/** Resolves once the servers have used under 5% of a core for 500 ms (at most 120 s). */
async function serverQuiet(pids: readonly number[]): Promise<void> {
  const window = 500;
  for (let waited = 0; waited < 120_000; waited += window) {
    const before = cpuSeconds(pids);
    await new Promise((resolve) => setTimeout(resolve, window));
    if (cpuSeconds(pids) - before < (window / 1000) * 0.05) return;
  }
  progress('  server still busy after 120 s: reading memory anyway');
}

/** CPU seconds (user + system) the processes have used so far, together. */
function cpuSeconds(pids: readonly number[]): number {
  let seconds = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    seconds += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  }
  return seconds;
}

/** Write system calls (write, writev, ...) and bytes written by the processes so far. */
function writesOf(pids: readonly number[]): { calls: number; bytes: number } {
  let calls = 0;
  let bytes = 0;
  for (const pid of pids) {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    calls += Number(/syscw:\s+(\d+)/.exec(io)?.[1] ?? 0);
    bytes += Number(/wchar:\s+(\d+)/.exec(io)?.[1] ?? 0);
  }
  return { calls, bytes };
}

function rssBytes(pids: readonly number[]): number {
  let bytes = 0;
  for (const pid of pids) {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    bytes += match ? Number(match[1]) * 1024 : 0;
  }
  return bytes;
}

// ---- clients ----------------------------------------------------------------------------

interface Tracker {
  /** Deliveries still expected per message id. */
  expected: Map<string, { left: number; sentAt: number; measured: boolean }>;
  histogram: hdr.Histogram;
  received: number;
  receivedMeasured: number;
  expectedMeasured: number;
}

function onDelivery(tracker: Tracker, message: ChatMessage): void {
  if (message.type !== 'room_chat' && message.type !== 'private_chat') return;
  const tag = message.content.slice(0, message.content.indexOf(' '));
  const entry = tracker.expected.get(tag);
  if (entry === undefined) return;
  tracker.received++;
  if (entry.measured) {
    tracker.receivedMeasured++;
    const latencyUs = Math.max(1, Math.round((performance.now() - entry.sentAt) * 1000));
    tracker.histogram.recordValue(latencyUs);
  }
  if (--entry.left === 0) tracker.expected.delete(tag);
}

async function connectAll(
  scenario: Scenario,
  urls: readonly string[],
  tracker: Tracker,
  counters: Counters,
  /** Each client's latest room seq seen, kept up to date as messages arrive. */
  lastSeen: Float64Array,
) {
  const { clients: count, rooms } = scenario;
  const clients: Client[] = new Array(count);
  let connected = 0;
  let lastReport = 0;
  for (let start = 0; start < count; start += CONNECT_CONCURRENCY) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + CONNECT_CONCURRENCY); i++) {
      // Spread over the instances: a room's members on every one of them.
      const socket: Client = io(urls[i % urls.length], {
        auth: { userId: `load${i}`, name: `load ${i}` },
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      socket.on('message', (message) => {
        onDelivery(tracker, message);
        if (message.seq !== undefined && message.seq > lastSeen[i]) lastSeen[i] = message.seq;
      });
      socket.on('disconnect', (reason) => {
        if (reason === 'io client disconnect') return;
        counters.disconnects++;
        note(counters, `disconnect: ${reason}`);
      });
      clients[i] = socket;
      batch.push(
        new Promise<void>((resolve) => {
          socket.once('connect', () => {
            connected++;
            resolve();
          });
          socket.once('connect_error', (error) => {
            counters.connectErrors++;
            note(counters, `connect_error: ${error.message}`);
            resolve();
          });
        }),
      );
    }
    await Promise.all(batch);
    if (connected - lastReport >= 1000 || connected === count) {
      lastReport = connected;
      progress(`  connecting ${bar(connected, count)} ${connected}/${count}`);
    }
  }
  // Join in the same batches: each client one room. A failed join counts as an error.
  let joined = 0;
  for (let start = 0; rooms > 0 && start < count; start += CONNECT_CONCURRENCY) {
    const joins = [];
    for (let i = start; i < Math.min(count, start + CONNECT_CONCURRENCY); i++) {
      if (!clients[i].connected) continue;
      joins.push(
        clients[i]
          .timeout(60_000)
          .emitWithAck('room:join', { roomId: roomOf(scenario, i) })
          .then(
            (reply: Reply<object>) => {
              if (reply.ok) joined++;
              else failed(counters, `room:join ${reply.error.code}`);
            },
            () => failed(counters, 'room:join timed out'),
          ),
      );
    }
    await Promise.all(joins);
    if (joined % 1000 < CONNECT_CONCURRENCY || start + CONNECT_CONCURRENCY >= count) {
      progress(`  joining    ${bar(joined, count)} ${joined}/${count}`);
    }
  }
  return clients;
}

interface Counters {
  connectErrors: number;
  disconnects: number;
  errors: number;
  /** Every error above by what it was, printed after the run. */
  reasons: Map<string, number>;
}

function note(counters: Counters, reason: string): void {
  counters.reasons.set(reason, (counters.reasons.get(reason) ?? 0) + 1);
}

function failed(counters: Counters, reason: string): void {
  counters.errors++;
  note(counters, reason);
}

function roomOf(scenario: Scenario, client: number): string {
  return `load-${client % scenario.rooms}`;
}

// ---- one run ----------------------------------------------------------------------------

async function run(target: Target, scenario: Scenario): Promise<LoadResult> {
  const { clients: count, rooms, rate } = scenario;
  progress(
    `\n${target.name}, ${scenario.name}: ${count} clients, ${rooms} rooms, ` +
      `${scenario.idle ? 'idle' : `${rate} msg/s each`}`,
  );
  const servers = await startServers(target, count);
  const pids = servers.map((server) => server.pid);
  const retainedRss = async (): Promise<number> =>
    (await Promise.all(servers.map((server) => server.retainedRss()))).reduce((a, b) => a + b, 0);
  if (target.createsRooms) {
    for (let r = 0; r < rooms; r++) {
      // Made on the instances in turn: each owns some of the rooms.
      await fetch(`${servers[r % servers.length].url}/api/rooms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: `load-${r}` }),
      });
    }
  }
  const tracker: Tracker = {
    expected: new Map(),
    histogram: hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 120_000_000,
      numberOfSignificantValueDigits: 3,
    }),
    received: 0,
    receivedMeasured: 0,
    expectedMeasured: 0,
  };
  const counters: Counters = { connectErrors: 0, disconnects: 0, errors: 0, reasons: new Map() };
  const rssBefore = await retainedRss();
  const connectStarted = performance.now();
  const urls = servers.map((server) => server.url);
  const lastSeen = new Float64Array(count);
  const clients = await connectAll(scenario, urls, tracker, counters, lastSeen);
  // Presence notices and room_join fan-out may still be in flight: wait for a quiet server.
  await serverQuiet(pids);
  progress(
    `  connected and settled in ${((performance.now() - connectStarted) / 1000).toFixed(1)} s`,
  );
  const rssConnected = await retainedRss();
  const memoryPerConnectionKb = (rssConnected - rssBefore) / 1024 / count;

  const membersPerRoom = Array.from(
    { length: rooms },
    (_, r) => clients.filter((c, i) => i % rooms === r && c.connected).length,
  );
  let sent = 0;
  let sentMeasured = 0;
  let cpuStart = 0;
  let cpuEnd = 0;
  let writesStart = { calls: 0, bytes: 0 };
  let writesEnd = { calls: 0, bytes: 0 };
  const totalRate = scenario.idle ? 0 : count * rate;
  let generatorCpuStart = 0;
  let generatorCpuEnd = 0;
  const started = performance.now();
  const measureFrom = started + WARMUP * 1000;
  const end = measureFrom + SECONDS * 1000;
  let next = started;
  let lastReport = started;
  let seq = 0;
  // --reads: every client marks its room read, spread evenly like the sends.
  const totalReadRate = scenario.idle || rooms < 1 ? 0 : count * (target.readsPerClient ?? 0);
  let nextRead = started;
  let reads = 0;
  let readsAckedMeasured = 0;

  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      if (cpuStart === 0 && now >= measureFrom) {
        cpuStart = cpuSeconds(pids);
        writesStart = writesOf(pids);
        generatorCpuStart = ownCpuSeconds();
      }
      while (totalRate > 0 && next <= now && next < end) {
        const from = seq % count;
        const client = clients[from];
        seq++;
        next += 1000 / totalRate;
        if (!client.connected) continue;
        const tag = `m${seq}`;
        const sentAt = performance.now();
        const measured = sentAt >= measureFrom;
        const isPrivate = Math.random() < scenario.privateRatio && count > 1;
        const to = isPrivate ? (from + 1 + Math.floor(Math.random() * (count - 1))) % count : -1;
        const expected = isPrivate ? 2 : membersPerRoom[from % rooms];
        tracker.expected.set(tag, { left: expected, sentAt, measured });
        if (measured) {
          sentMeasured++;
          tracker.expectedMeasured += expected;
        }
        sent++;
        const content = `${tag} ${'x'.repeat(80)}`;
        const reply = isPrivate
          ? client.timeout(30_000).emitWithAck('private:message', { to: `load${to}`, content })
          : client
              .timeout(30_000)
              .emitWithAck('room:message', { roomId: roomOf(scenario, from), content });
        reply.then(
          (r: Reply<object>) => {
            if (!r.ok) failed(counters, `send ${r.error.code}`);
          },
          () => failed(counters, 'send timed out'),
        );
      }
      while (totalReadRate > 0 && nextRead <= now && nextRead < end) {
        const from = reads++ % count;
        nextRead += 1000 / totalReadRate;
        const client = clients[from];
        if (!client.connected) continue;
        const measured = performance.now() >= measureFrom;
        client
          .timeout(30_000)
          .emitWithAck('room:read', { roomId: roomOf(scenario, from), seq: lastSeen[from] })
          .then(
            (r: Reply<object>) => {
              if (!r.ok) failed(counters, `room:read ${r.error.code}`);
              else if (measured && performance.now() < end) readsAckedMeasured++;
            },
            () => failed(counters, 'room:read timed out'),
          );
      }
      if (now - lastReport >= 1000) {
        lastReport = now;
        const phase = now < measureFrom ? 'warm-up  ' : now < end ? 'measuring' : 'draining ';
        const elapsed = Math.max(0, Math.min(SECONDS, (now - measureFrom) / 1000));
        progress(
          `  ${bar(elapsed, SECONDS)} ${phase} ${elapsed.toFixed(0)}/${SECONDS}s sent ${sent} ` +
            `delivered ${tracker.received} pending ${tracker.expected.size} errors ${counters.errors}`,
        );
      }
      if (now >= end) {
        if (cpuEnd === 0) {
          cpuEnd = cpuSeconds(pids);
          writesEnd = writesOf(pids);
          generatorCpuEnd = ownCpuSeconds();
        }
        // Wait for stragglers: every message accounted for, or 10 s without them.
        if (tracker.expected.size === 0 || now >= end + 10_000) {
          done();
          return;
        }
      }
      setTimeout(tick, 2);
    };
    tick();
  });

  for (const [reason, count] of counters.reasons) progress(`  ${count} x ${reason}`);
  if (totalReadRate > 0) {
    progress(`  room:read acknowledged: ${Math.round(readsAckedMeasured / SECONDS)}/s measured`);
  }
  const serverRssMb = rssBytes(pids) / 1024 / 1024;
  const stopStarted = performance.now();
  for (const client of clients) client.disconnect();
  const exitCodes = await Promise.all(servers.map((server) => server.stop()));
  const exitCode = exitCodes.find((code) => code !== 0) ?? 0;
  progress(
    `  stopped in ${((performance.now() - stopStarted) / 1000).toFixed(1)} s, exit code ${exitCode}`,
  );

  const deliveries = tracker.receivedMeasured;
  const generatorCpu = scenario.idle ? 0 : (generatorCpuEnd - generatorCpuStart) / SECONDS;
  const unreliable = generatorCpu > GENERATOR_BUSY;
  if (unreliable) {
    progress(
      `  UNRELIABLE: the load generator used ${(generatorCpu * 100).toFixed(0)}% of its core: ` +
        'it, not the server, may be the bottleneck',
    );
  }
  const ms = (p: number): number => +(tracker.histogram.getValueAtPercentile(p) / 1000).toFixed(2);
  return {
    target: target.name,
    scenario: scenario.name,
    clients: count,
    rooms,
    sentPerSec: Math.round(sentMeasured / SECONDS),
    deliveriesPerSec: Math.round(deliveries / SECONDS),
    expectedDeliveries: tracker.expectedMeasured,
    receivedDeliveries: deliveries,
    deliveryRatio:
      tracker.expectedMeasured === 0 ? 1 : +(deliveries / tracker.expectedMeasured).toFixed(4),
    missing: tracker.expectedMeasured - deliveries,
    errors: counters.errors,
    connectErrors: counters.connectErrors,
    disconnects: counters.disconnects,
    latencyMs:
      deliveries === 0
        ? { p50: 0, p95: 0, p99: 0, max: 0 }
        : {
            p50: ms(50),
            p95: ms(95),
            p99: ms(99),
            max: +(tracker.histogram.maxValue / 1000).toFixed(2),
          },
    serverCpuUsPerDelivery:
      deliveries === 0 ? null : +(((cpuEnd - cpuStart) * 1e6) / deliveries).toFixed(2),
    serverWritesPerDelivery:
      deliveries === 0 ? null : +((writesEnd.calls - writesStart.calls) / deliveries).toFixed(3),
    serverBytesPerDelivery:
      deliveries === 0 ? null : Math.round((writesEnd.bytes - writesStart.bytes) / deliveries),
    serverRssMb: +serverRssMb.toFixed(1),
    serverRssStartMb: +(rssBefore / 1024 / 1024).toFixed(1),
    memoryPerConnectionKb: +memoryPerConnectionKb.toFixed(1),
    generatorCpu: +generatorCpu.toFixed(2),
    readsPerSec: Math.round(readsAckedMeasured / SECONDS),
    unreliable,
  };
}

/** CPU seconds (user + system) this process, the load generator, has used so far. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// ---- report -----------------------------------------------------------------------------

/** Each figure the median of its rounds (separately: a round's p99 and CPU need not pair). */
function medianOf(results: LoadResult[]): LoadResult {
  const median = (pick: (r: LoadResult) => number): number => {
    const values = results.map(pick).sort((a, b) => a - b);
    const mid = values.length >> 1;
    const value = values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    return +value.toFixed(2);
  };
  const cpu = results.map((r) => r.serverCpuUsPerDelivery);
  return {
    ...results[0],
    deliveriesPerSec: median((r) => r.deliveriesPerSec),
    deliveryRatio: Math.min(...results.map((r) => r.deliveryRatio)),
    missing: results.reduce((sum, r) => sum + r.missing, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    connectErrors: results.reduce((sum, r) => sum + r.connectErrors, 0),
    disconnects: results.reduce((sum, r) => sum + r.disconnects, 0),
    latencyMs: {
      p50: median((r) => r.latencyMs.p50),
      p95: median((r) => r.latencyMs.p95),
      p99: median((r) => r.latencyMs.p99),
      max: Math.max(...results.map((r) => r.latencyMs.max)),
    },
    serverCpuUsPerDelivery: cpu.includes(null)
      ? null
      : +median((r) => r.serverCpuUsPerDelivery as number).toFixed(2),
    serverWritesPerDelivery: cpu.includes(null)
      ? null
      : median((r) => r.serverWritesPerDelivery as number),
    serverBytesPerDelivery: cpu.includes(null)
      ? null
      : median((r) => r.serverBytesPerDelivery as number),
    serverRssMb: median((r) => r.serverRssMb),
    serverRssStartMb: median((r) => r.serverRssStartMb),
    memoryPerConnectionKb: +median((r) => r.memoryPerConnectionKb).toFixed(1),
    generatorCpu: median((r) => r.generatorCpu),
    readsPerSec: median((r) => r.readsPerSec),
    unreliable: results.some((r) => r.unreliable),
  };
}

type Figure = (r: LoadResult) => number | null;
const P50: Figure = (r) => r.latencyMs.p50;
const P99: Figure = (r) => r.latencyMs.p99;
const CPU: Figure = (r) => r.serverCpuUsPerDelivery;
const MEMORY: Figure = (r) => r.memoryPerConnectionKb;

/** Ours over the baseline of the same round; with several rounds, the median of those. */
function ratioOf(rounds: LoadResult[][], target: number, figure: Figure): number | undefined {
  const ratios = rounds.flatMap((round) => {
    // The first target of a round is what the others are measured against.
    const base = round[0];
    const value = figure(round[target]);
    const of = base === undefined || base === round[target] ? null : figure(base);
    return value === null || of === null || of === 0 ? [] : [value / of];
  });
  if (ratios.length === 0) return undefined;
  ratios.sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
}

/** `results` are one round's, or each figure's median over `rounds`. */
function table(results: LoadResult[], rounds: LoadResult[][] = [results]): string {
  const ratio = (i: number, figure: Figure): string => {
    const value = ratioOf(rounds, i, figure);
    return value === undefined ? '' : ` (${value.toFixed(2)}x)`;
  };
  const rows = [
    '| target | deliveries/s | delivery ratio | missing | errors | p50 ms | p95 ms | p99 ms | max ms | server CPU µs/delivery | writes (bytes)/delivery | server RSS MB (at start) | memory/conn KB | generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [i, r] of results.entries()) {
    rows.push(
      `| ${r.target} | ${r.deliveriesPerSec}${r.readsPerSec > 0 ? ` (+ ${r.readsPerSec} reads/s)` : ''} | ${r.deliveryRatio.toFixed(3)} | ${r.missing} | ${r.errors + r.connectErrors + r.disconnects} | ` +
        `${r.latencyMs.p50}${ratio(i, P50)} | ${r.latencyMs.p95} | ` +
        `${r.latencyMs.p99}${ratio(i, P99)} | ${r.latencyMs.max} | ` +
        `${r.serverCpuUsPerDelivery ?? '–'}${ratio(i, CPU)} | ` +
        `${r.serverWritesPerDelivery ?? '–'} (${r.serverBytesPerDelivery ?? '–'}) | ` +
        `${r.serverRssMb} (${r.serverRssStartMb}) | ${r.memoryPerConnectionKb}${ratio(i, MEMORY)} | ` +
        `${(r.generatorCpu * 100).toFixed(0)}%${r.unreliable ? ' UNRELIABLE' : ''} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-load-'));
  const ours: Target = {
    name:
      args['node24-work'] === undefined
        ? 'actor-chat (SQLite)'
        : `actor-chat (SQLite) on Node ${process.version}`,
    script: 'dist/src/main.js',
    // One address opens every connection here: the per-address connection rate is off.
    // Presence to everyone up to 1,000 online users: past that it is N² (see the README).
    env: {
      STORE: 'sqlite',
      DATA_DIR: dataDir,
      IDLE_TIMEOUT_MS: '0',
      CONNECT_RATE_PER_IP: '0',
      PRESENCE_BROADCAST_MAX_USERS: '1000',
    },
    createsRooms: true,
  };
  const bare: Target = {
    name: 'bare socket.io',
    script: 'dist/bench/baseline-server.js',
    env: {},
    createsRooms: false,
  };
  progress(
    `load benchmark on node ${process.version}, ${SECONDS}s measured after ${WARMUP}s warm-up`,
  );
  // --instances N: a cluster of N on PostgreSQL and Redis, against one instance on the same
  // PostgreSQL and load.
  const schema = `bench_cluster_${process.pid}`;
  const onPostgres: Record<string, string> = {
    ...ours.env,
    STORE: 'postgres',
    DATABASE_URL: args.postgres,
    DATABASE_SCHEMA: schema,
  };
  const targets: Target[] =
    INSTANCES > 1
      ? [
          { ...ours, name: 'actor-chat (PostgreSQL, 1 instance)', env: onPostgres },
          {
            ...ours,
            name: `actor-chat (PostgreSQL + Redis, ${INSTANCES} instances)`,
            env: { ...onPostgres, REDIS_URL: args.redis, REDIS_PREFIX: `bench-${process.pid}:` },
            instances: INSTANCES,
          },
        ]
      : [...(args.baseline ? [bare] : []), ours, ...withReads(ours), ...onNode24(ours)];
  // Each scenario's rounds: one result per target in each.
  const roundsOf = new Map<Scenario, LoadResult[][]>(SCENARIOS.map((scenario) => [scenario, []]));
  try {
    // Alternating the targets spreads the machine's slow moments over both.
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) progress(`\nround ${round} of ${ROUNDS}`);
      for (const scenario of SCENARIOS) {
        const results: LoadResult[] = [];
        for (const target of targets) {
          results.push(await run(withOwnStore(target, dataDir), scenario));
          if (INSTANCES > 1) dropSchema(args.postgres, schema);
        }
        roundsOf.get(scenario)?.push(results);
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const report = SCENARIOS.map((scenario) => {
    const rounds = roundsOf.get(scenario) ?? [];
    const results = rounds[0].map((_, i) => medianOf(rounds.map((round) => round[i])));
    return { scenario, results, rounds };
  });
  if (args.json) {
    console.log(JSON.stringify({ seconds: SECONDS, scenarios: report }, null, 2));
    return;
  }
  for (const { scenario, results, rounds } of report) {
    if (ROUNDS > 1) {
      for (const [i, round] of rounds.entries()) {
        console.log(`\n${scenario.name}, round ${i + 1}\n${table(round)}`);
      }
    }
    const medians = ROUNDS > 1 ? `, median of ${ROUNDS} rounds (ratios: of each round's)` : '';
    console.log(`\n${scenario.name}${medians}\n${table(results, rounds)}`);
  }
  const unreliable = report.flatMap(({ rounds }) => rounds.flat()).filter((r) => r.unreliable);
  if (unreliable.length > 0) {
    console.log(
      `\nUNRELIABLE: in ${unreliable.length} run(s) the load generator was busier than ` +
        `${GENERATOR_BUSY * 100}% of its core (generator CPU column)`,
    );
  }
}

let storesMade = 0;

/** Every run on SQLite starts from an empty store of its own: no run sees another's history. */
function withOwnStore(target: Target, dataDir: string): Target {
  if (target.env.STORE !== 'sqlite') return target;
  return { ...target, env: { ...target.env, DATA_DIR: join(dataDir, `run-${++storesMade}`) } };
}

/** `--reads N`: the service again, each client also sending room:read N times a second. */
function withReads(ours: Target): Target[] {
  const perClient = Number(args.reads);
  if (!(perClient > 0)) return [];
  return [
    { ...ours, name: `${ours.name} + room:read ${perClient}/s each`, readsPerClient: perClient },
  ];
}

/** `--node24-work DIR`: the service again, on Node 24 from that copy (its own build). */
function onNode24(ours: Target): Target[] {
  const work = args['node24-work'];
  if (work === undefined) return [];
  const node = join(work, 'bin', 'node');
  const version = execFileSync(node, ['--version']).toString().trim();
  return [
    {
      ...ours,
      name: `actor-chat (SQLite) on Node ${version}`,
      node,
      script: join(work, 'app', 'dist', 'src', 'main.js'),
    },
  ];
}

/** A fresh database for the next run of a PostgreSQL target. */
function dropSchema(url: string, schema: string): void {
  execFileSync('psql', [url, '-q', '-c', `DROP SCHEMA IF EXISTS ${schema} CASCADE`], {
    stdio: 'ignore',
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * Actor runtime benchmark: jobs per second through one actor and across 1,000 actors,
 * against a bare baseline measured in the same run (a plain array of closures drained in a
 * loop), plus how late delayed jobs fire while the loops are under load.
 *
 *   npm run bench:dispatcher [-- --jobs 1000000 --rounds 5 --json]
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Actor, Dispatcher } from '../src/dispatcher/index.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '4' },
    burst: { type: 'string', default: '5000' },
    json: { type: 'boolean', default: false },
  },
});
const JOBS = Number(args.jobs);
const ROUNDS = Number(args.rounds);
const WORKERS = Number(args.workers);
const BURST = Number(args.burst);

class Counter extends Actor {
  count = 0;
  constructor(dispatcher: Dispatcher, name: string) {
    super(dispatcher, { name, capacity: Number.MAX_SAFE_INTEGER });
  }
  bump(): boolean {
    return this.enqueue(() => {
      this.count++;
    });
  }
  at(delayMs: number, job: () => void): void {
    this.enqueueAfter(delayMs, job);
  }
}

function progress(label: string): void {
  if (!args.json) process.stderr.write(`  ${label}...\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Target {
  count: number;
}

/**
 * Bare baseline: the same jobs (a closure bumping a counter) pushed to a plain array and
 * drained in a loop, in the same bursts as the actor runs, with the same event-loop turn
 * between bursts. Everything the actor path adds on top is the runtime's cost.
 */
async function bareBaseline(jobs: number): Promise<number> {
  const target: Target = { count: 0 };
  const start = performance.now();
  for (let sent = 0; sent < jobs; sent += BURST) {
    const queue: Array<() => void> = [];
    for (let i = 0; i < BURST; i++) {
      queue.push(() => {
        target.count++;
      });
    }
    for (let i = 0; i < queue.length; i++) queue[i]();
    await nextTurn();
  }
  const elapsed = performance.now() - start;
  if (target.count !== jobs) throw new Error('baseline lost jobs');
  return jobs / (elapsed / 1000);
}

/** Jobs arrive in bursts with an event-loop turn between them, as socket events do. */
async function throughput(jobs: number, actorCount: number): Promise<number> {
  const dispatcher = new Dispatcher({ workers: WORKERS, monitorEventLoop: false });
  dispatcher.start();
  const actors = Array.from({ length: actorCount }, (_, i) => new Counter(dispatcher, `c${i}`));
  const start = performance.now();
  let next = 0;
  for (let sent = 0; sent < jobs; sent += BURST) {
    for (let i = 0; i < BURST; i++) {
      actors[next].bump();
      if (++next === actorCount) next = 0;
    }
    await nextTurn();
  }
  await dispatcher.drain();
  const elapsed = performance.now() - start;
  const total = actors.reduce((sum, a) => sum + a.count, 0);
  await dispatcher.close();
  if (total !== jobs) throw new Error(`lost jobs: ${total} of ${jobs}`);
  return jobs / (elapsed / 1000);
}

/** Delayed jobs due at random times within a second while 1,000 actors are kept busy. */
async function delayedLateness(): Promise<{
  fired: number;
  p50: number;
  p99: number;
  max: number;
}> {
  const dispatcher = new Dispatcher({ workers: WORKERS, monitorEventLoop: false });
  dispatcher.start();
  const actors = Array.from({ length: 1000 }, (_, i) => new Counter(dispatcher, `l${i}`));
  const lateness: number[] = [];
  const timed = 2000;
  for (let i = 0; i < timed; i++) {
    const delay = 5 + Math.random() * 1000;
    const due = performance.now() + delay;
    actors[i % actors.length].at(delay, () => void lateness.push(performance.now() - due));
  }
  const until = performance.now() + 1100;
  let offered = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 5000; i++) actors[(offered + i) % actors.length].bump();
    offered += 5000;
    await nextTurn();
  }
  await dispatcher.drain();
  await dispatcher.close();
  return {
    fired: lateness.length,
    p50: percentile(lateness, 50),
    p99: percentile(lateness, 99),
    max: Math.max(...lateness),
  };
}

async function main(): Promise<void> {
  if (!args.json) {
    console.error(
      `dispatcher benchmark: ${JOBS.toLocaleString()} jobs in bursts of ${BURST}, ${ROUNDS} rounds, ` +
        `${WORKERS} loops, node ${process.version}`,
    );
  }
  // Warm up both paths so the JIT has compiled them before anything is timed.
  await bareBaseline(200_000);
  await throughput(200_000, 1);
  await throughput(200_000, 1000);

  const bare: number[] = [];
  const one: number[] = [];
  const many: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`round ${round}/${ROUNDS}`);
    bare.push(await bareBaseline(JOBS));
    one.push(await throughput(JOBS, 1));
    many.push(await throughput(JOBS, 1000));
  }
  progress('delayed jobs under load');
  const delayed = await delayedLateness();

  const result = {
    jobs: JOBS,
    rounds: ROUNDS,
    workers: WORKERS,
    bareJobsPerSec: Math.round(median(bare)),
    oneActorJobsPerSec: Math.round(median(one)),
    oneActorRatio: +(median(one) / median(bare)).toFixed(2),
    thousandActorsJobsPerSec: Math.round(median(many)),
    thousandActorsRatio: +(median(many) / median(bare)).toFixed(2),
    delayedFired: delayed.fired,
    delayedLatenessMs: {
      p50: +delayed.p50.toFixed(2),
      p99: +delayed.p99.toFixed(2),
      max: +delayed.max.toFixed(2),
    },
  };
  if (args.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const rate = (n: number): string => `${(n / 1e6).toFixed(2)} M jobs/s`;
  console.log('');
  console.log('| path | throughput (median) | vs bare |');
  console.log('|---|---|---|');
  console.log(`| bare array queue (baseline) | ${rate(result.bareJobsPerSec)} | 1.00x |`);
  console.log(
    `| one actor | ${rate(result.oneActorJobsPerSec)} | ${result.oneActorRatio.toFixed(2)}x |`,
  );
  console.log(
    `| 1,000 actors | ${rate(result.thousandActorsJobsPerSec)} | ${result.thousandActorsRatio.toFixed(2)}x |`,
  );
  console.log('');
  console.log(
    `delayed jobs under load: ${delayed.fired} fired, late by p50 ${result.delayedLatenessMs.p50} ms, ` +
      `p99 ${result.delayedLatenessMs.p99} ms, max ${result.delayedLatenessMs.max} ms`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

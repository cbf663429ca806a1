// Preloaded (--expose-gc --require) into the service by the GC soak (scripts/ci/gc-soak.ts),
// never in production: a garbage collection every FORCE_GC_MS (default 25) on the main
// thread and on every worker thread (the SQLite writer), in turn a full one, a young-
// generation one, a full one that V8 runs later from a task of its own (as its own GC tasks
// run, outside any JavaScript), and a young-generation one again. better-sqlite3 12 on
// Node 24 aborts the process when one of its objects is collected outside a live
// environment; 13 does not.
const { isMainThread, threadId } = process.getBuiltinModule('node:worker_threads');

if (typeof global.gc !== 'function') {
  throw new Error('scripts/ci/force-gc.cjs needs node --expose-gc');
}
const every = Number(process.env.FORCE_GC_MS ?? 25);
const where = isMainThread ? 'main thread' : `worker ${threadId}`;
const counts = { full: 0, young: 0, 'full from a task': 0 };
let tick = 0;
// Unref'd: it keeps neither the process nor the writer thread alive.
setInterval(() => {
  switch (tick++ % 4) {
    case 0:
      global.gc({ type: 'major' });
      counts.full++;
      break;
    case 2:
      void global.gc({ type: 'major', execution: 'async' });
      counts['full from a task']++;
      break;
    default:
      global.gc({ type: 'minor' });
      counts.young++;
  }
}, every).unref();
process.on('exit', () => {
  // One line per thread; a worker's line may be lost when the process ends with it.
  const done = Object.entries(counts).map(([kind, n]) => `${n} ${kind}`);
  process.stderr.write(`force-gc: ${done.join(', ')} collections on the ${where}\n`);
});

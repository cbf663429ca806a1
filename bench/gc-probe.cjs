// Preloaded into server processes by the load benchmark (never in production): on SIGUSR2
// it collects garbage and prints memory use, so memory per connection is measured on what
// is retained rather than on garbage not yet collected.
process.on('SIGUSR2', () => {
  global.gc();
  global.gc();
  const { rss, heapUsed } = process.memoryUsage();
  console.log(`GC-PROBE rss=${rss} heapUsed=${heapUsed}`);
});

// Preloaded (`node --import`) into a service under test: prints `MODULE-LOADED <package>`
// the first time a module of that package is loaded (not merely resolved), so a test can
// see what loads when.
import * as nodeModule from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const PACKAGE = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//;
const seen = new Set();
const report = (url) => {
  const name = PACKAGE.exec(url)?.[1];
  if (name === undefined || seen.has(name)) return;
  seen.add(name);
  process.stderr.write(`MODULE-LOADED ${name}\n`);
};

if (typeof nodeModule.registerHooks === 'function') {
  // Node 22.15+: hooks on this thread.
  nodeModule.registerHooks({
    load(url, context, next) {
      report(url);
      return next(url, context);
    },
  });
} else {
  // Node 20: hooks on the loader's thread, reporting back over a port.
  const { port1, port2 } = new MessageChannel();
  port1.on('message', report);
  port1.unref();
  const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) {
  port.postMessage(url);
  return next(url, context);
}`;
  nodeModule.register(`data:text/javascript,${encodeURIComponent(hooks)}`, {
    data: { port: port2 },
    transferList: [port2],
  });
}

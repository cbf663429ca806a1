// Preloaded (`node --import`) into a service under test: prints `MODULE-LOADED <specifier>`
// the first time a bare package specifier is resolved, so a test can see what loads when.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
port1.on('message', (specifier) => process.stderr.write(`MODULE-LOADED ${specifier}\n`));
port1.unref();

const hooks = `
let port;
const seen = new Set();
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  if (/^(@[^./][^/]*\\/)?[^./][^/:]*$/.test(specifier) && !seen.has(specifier)) {
    seen.add(specifier);
    port.postMessage(specifier);
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, {
  data: { port: port2 },
  transferList: [port2],
});

// The one place that picks the better-sqlite3 this process runs, for the main thread (reads)
// and the writer thread alike. Plain JavaScript: the writer runs as is under node and jest.
//
// - Node 20: better-sqlite3 12 (the dependency "better-sqlite3"). 13 needs Node 22 and
//   crashes on 20, so npm skips it there (it is optional, with engines ">=22").
// - Node 22 and newer: better-sqlite3 13, Node-API (the optional dependency
//   "better-sqlite3-13", an npm alias). 12 aborts the process on Node 24 whenever a
//   statement is garbage-collected outside a live environment (`Assertion failed: (env) !=
//   nullptr` in node::RemoveEnvironmentCleanupHook); 13 does not.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The running Node's major version. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The package this process loads: "better-sqlite3" (12) or "better-sqlite3-13". */
export const SQLITE_PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3-13' : 'better-sqlite3';

function load(name) {
  try {
    return require(name);
  } catch (error) {
    if (error?.code === 'MODULE_NOT_FOUND' && String(error.message).includes(`'${name}'`)) {
      throw new Error(
        `${name} is not installed, and Node ${process.versions.node} needs it: ` +
          (name === 'better-sqlite3'
            ? 'run npm ci.'
            : 'better-sqlite3 13 (the optional dependency better-sqlite3-13) is what runs on ' +
              'Node 22 and newer. Run npm ci with this Node (node_modules installed under ' +
              'Node 20 do not have it).'),
        { cause: error },
      );
    }
    throw error;
  }
}

/** @type {typeof import('better-sqlite3')} */
const Database = load(SQLITE_PACKAGE);

/** E.g. "better-sqlite3 13.2.0", for logs and tests. */
export const SQLITE_DRIVER = `better-sqlite3 ${require(`${SQLITE_PACKAGE}/package.json`).version}`;

export default Database;

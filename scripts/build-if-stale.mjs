// Builds dist/ only when a source is newer than the last build, so that `npm run client`,
// `npm run demo` and `npm start` start at once when nothing changed. Plain JavaScript: it runs
// before anything is built.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCES = ['src', 'bench', 'scripts'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
/** Every build writes every output again: this one's time is the last build's. */
const BUILT = 'dist/src/main.js';

function newestIn(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return /\.(ts|js|mjs|cjs|json)$/.test(path) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestIn(join(path, entry)));
  return newest;
}

const built = statSync(BUILT, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const changed = Math.max(...SOURCES.map(newestIn), ...CONFIGS.map(newestIn));
if (changed > built) {
  process.stderr.write(
    built === 0 ? 'building (first run)...\n' : 'sources changed: building...\n',
  );
  try {
    execFileSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
      {
        stdio: 'inherit',
      },
    );
  } catch {
    process.stderr.write(
      'the build failed (above): fix it, or run `npm run build` to see it again\n',
    );
    process.exit(1);
  }
}

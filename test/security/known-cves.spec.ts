/**
 * The socket.io stack's published CVEs: every installed copy of each package must be at or
 * above its fix (package.json `overrides` keeps transitive copies there too).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXED_IN: Record<string, { version: string; cves: string }> = {
  'socket.io': { version: '4.6.2', cves: 'CVE-2024-38355' },
  'socket.io-parser': { version: '4.2.3', cves: 'CVE-2022-2421, CVE-2023-32695' },
  'engine.io': { version: '6.4.2', cves: 'CVE-2022-21676, CVE-2022-41940, CVE-2023-31125' },
  ws: { version: '8.17.1', cves: 'CVE-2024-37890' },
};

/** Every installed copy of `name`, nested ones included, as [path, version]. */
function installed(name: string, dir = 'node_modules', found: string[][] = []): string[][] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(path))
        installed(name, join(path, scoped, 'node_modules'), found);
      continue;
    }
    if (entry === name) {
      const { version } = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as {
        version: string;
      };
      found.push([path, version]);
    }
    installed(name, join(path, 'node_modules'), found);
  }
  return found;
}

function atLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

describe('known CVEs of the socket.io stack', () => {
  for (const [name, { version: minimum, cves }] of Object.entries(FIXED_IN)) {
    it(`should install ${name} at ${minimum} or later (${cves})`, () => {
      const copies = installed(name);
      expect(copies.length).toBeGreaterThan(0);
      const below = copies.filter(([, version]) => !atLeast(version, minimum));
      expect(below).toEqual([]);
    });
  }
});

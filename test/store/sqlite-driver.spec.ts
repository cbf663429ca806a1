/**
 * The SQLite store loads better-sqlite3 12 on Node 20 and 13 (Node-API) on Node 22 and newer,
 * where 12 aborts the process when a statement is garbage-collected (README, "Runtimes").
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database, {
  NODE_MAJOR,
  SQLITE_DRIVER,
  SQLITE_PACKAGE,
} from '../../src/store/sqlite/sqlite-driver.js';

describe('the SQLite driver', () => {
  it('is better-sqlite3 12 on Node 20 and 13 on Node 22 and newer', () => {
    const major = NODE_MAJOR >= 22 ? 13 : 12;
    expect(NODE_MAJOR).toBe(Number(process.versions.node.split('.')[0]));
    expect(SQLITE_PACKAGE).toBe(major === 13 ? 'better-sqlite3-13' : 'better-sqlite3');
    expect(SQLITE_DRIVER).toMatch(new RegExp(`^better-sqlite3 ${major}\\.`));
  });

  it('opens a file and survives its statements being collected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-driver-'));
    try {
      const db = new Database(join(dir, 'x.sqlite'));
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (n INTEGER)');
      for (let n = 0; n < 200; n++) db.prepare('INSERT INTO t (n) VALUES (?)').run(n);
      expect(db.prepare('SELECT COUNT(*) AS c FROM t').get()).toEqual({ c: 200 });
      db.close();
      (globalThis as { gc?: () => void }).gc?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The README's install-and-run command is `npm ci && npm start`: the start script must
 * start the built service on the embedded default store, and /health must answer.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess } from '../../scripts/lib/service-process.js';

describe('npm start', () => {
  it('should start the service on SQLite and answer /health', async () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-start-'));
    // The start script itself (the build ran in globalSetup, as prestart would).
    const service = new ServiceProcess({
      command: 'sh',
      args: ['-c', `exec ${scripts.start}`],
      env: { DATA_DIR: dataDir },
    });
    try {
      const url = await service.start();
      expect(service.log).toContain(`store: sqlite (${join(dataDir, 'chat.sqlite')})`);
      const health = await fetch(`${url}/health`);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect(await service.stop('SIGTERM')).toBe(0);
    } finally {
      await service.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

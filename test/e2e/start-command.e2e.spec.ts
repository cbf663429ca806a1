/**
 * The README's install-and-run command is `npm ci && npm start`: the start script must
 * start the built service on the embedded default store, and /health must answer.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('npm start', () => {
  it('should start the service on SQLite and answer /health', async () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-start-'));
    // The start script itself (the build ran in globalSetup, as prestart would).
    const child = spawn('sh', ['-c', `exec ${scripts.start}`], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STORE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          const match = /chat service on (http:\/\/\S+)/.exec(output);
          if (match) resolve(match[1].replace('localhost', '127.0.0.1'));
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      });
      expect(output).toContain(`store: sqlite (${join(dataDir, 'chat.sqlite')})`);
      const health = await fetch(`${url}/health`);
      expect(await health.json()).toEqual({ status: 'ok' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

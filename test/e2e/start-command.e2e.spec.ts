/**
 * The README's install-and-run command is `npm ci && npm start`: the start script must
 * start the built service on the embedded default store, and /health must answer. With
 * nothing configured, the defaults must not refuse ordinary use.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { ServiceProcess } from '../../scripts/lib/service-process.js';

describe('npm start', () => {
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
    scripts: Record<string, string>;
  };
  let dataDir = '';
  let service: ServiceProcess;
  let url = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chat-start-'));
    // The start script itself (the build ran in globalSetup, as prestart would), with
    // nothing set but where to keep its file.
    service = new ServiceProcess({
      command: 'sh',
      args: ['-c', `exec ${scripts.start}`],
      // HOST empty is HOST unset.
      env: { DATA_DIR: dataDir, HOST: '' },
    });
    url = await service.start();
  });

  afterAll(async () => {
    await service.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should start on SQLite, on this machine only, saying so in one line', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const started = service.log.split('\n').filter((line) => line.includes('"level":"info"'));
    expect(started).toHaveLength(1);
    expect(started[0]).toContain(`store: sqlite (${join(dataDir, 'chat.sqlite')})`);
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('should let 1,000 clients from one address connect at once (a bot fleet, a NAT)', async () => {
    // Plain sockets: each arrival is announced to everyone online (half a million messages).
    const sockets = Array.from({ length: 1000 }, (_, i) =>
      io(url, {
        auth: { userId: `bot-${i}` },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      }),
    );
    try {
      const outcomes = await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<string>((resolve) => {
              socket.once('connect', () => resolve('connected'));
              socket.once('connect_error', (error) => resolve(error.message));
            }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome !== 'connected')).toEqual([]);
    } finally {
      for (const socket of sockets) socket.disconnect();
    }
  }, 120_000);

  it('should not build again when no source changed since the last build', () => {
    // globalSetup built dist/ just now; `npm run client`, `demo` and `start` go through this.
    const check = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stderr).not.toContain('building');
  });

  it('should stop cleanly on SIGTERM', async () => {
    expect(await service.stop('SIGTERM')).toBe(0);
  });
});

describe('a port already in use', () => {
  it('should say so in one error line and exit 1, with no stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const service = new ServiceProcess({ env: { STORE: 'memory', PORT: String(port) } });
    try {
      expect(await service.runToExit()).toBe(1);
      const lines = service.log.trim().split('\n');
      const errors = lines.filter((line) => line.includes('"level":"error"'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(service.log).not.toMatch(/successfully started|EADDRINUSE|\bat /);
    } finally {
      taken.close();
    }
  });
});

describe('what loads at start', () => {
  it('should load the OpenAPI machinery only once someone asks for the docs', async () => {
    const service = new ServiceProcess({
      args: ['--import', './test/support/module-spy.mjs', 'dist/src/main.js'],
      env: { STORE: 'memory' },
    });
    try {
      const url = await service.start();
      expect(service.log).toContain('MODULE-LOADED @nestjs/core');
      expect(service.log).not.toContain('MODULE-LOADED @nestjs/swagger');

      const docs = await fetch(`${url}/docs-json`);

      expect(docs.status).toBe(200);
      expect(((await docs.json()) as { paths: object }).paths).toHaveProperty(['/api/snapshot']);
      await service.waitForLog(/MODULE-LOADED @nestjs\/swagger\n/);
    } finally {
      await service.stop('SIGKILL');
    }
  });
});

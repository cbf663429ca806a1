/**
 * /ready tells the truth: while the store refuses writes it answers 503 naming the store, and
 * 200 again once writes succeed. The service runs in a mount namespace of its own with DATA_DIR
 * on a small tmpfs, which the test fills up and empties again (file modes do not stop root, a
 * full disk does). Skipped, loudly, where mount namespaces cannot be made.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clients } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';

function canMountNamespaces(): boolean {
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  if (probe.status === 0) return true;
  const why = `cannot make a mount namespace (${probe.stderr?.toString().trim() || probe.error})`;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${why}; REQUIRE_SERVICES=1`);
  console.warn(
    `\n${'!'.repeat(78)}\n!! ${why}: the full-disk test is SKIPPED\n${'!'.repeat(78)}\n`,
  );
  return false;
}

const namespaces = canMountNamespaces();

interface ReadyBody {
  status: string;
  error?: Record<string, { message?: string }>;
}

describe('readiness while the store refuses writes', () => {
  let mountPoint = '';
  let server: ServerProcess | undefined;
  const clients = new Clients(() => server?.url ?? '');

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
    if (mountPoint) rmSync(mountPoint, { recursive: true, force: true });
  });

  /** A shell command in the service's mount namespace (where the tmpfs is). */
  function inServiceNamespace(command: string): void {
    execFileSync('nsenter', ['--target', String(server?.pid), '--mount', 'sh', '-c', command], {
      stdio: 'ignore',
    });
  }

  async function ready(): Promise<{ status: number; body: ReadyBody }> {
    const response = await fetch(`${server?.url}/ready`);
    return { status: response.status, body: (await response.json()) as ReadyBody };
  }

  (namespaces ? it : it.skip)(
    'should answer 503 naming sqlite while the disk is full, and 200 once writes succeed again',
    async () => {
      mountPoint = mkdtempSync(join(tmpdir(), 'chat-full-disk-'));
      const dataDir = join(mountPoint, 'data');
      server = new ServerProcess(
        { STORE: 'sqlite', DATA_DIR: dataDir, RATE_LIMIT_BURST: '100000' },
        {
          command: 'unshare',
          args: [
            '--mount',
            '--propagation',
            'private',
            'sh',
            '-c',
            `mount -t tmpfs -o size=6m tmpfs '${mountPoint}' && exec '${process.execPath}' dist/src/main.js`,
          ],
        },
      );
      await server.start();
      expect((await ready()).status).toBe(200);
      const alice = await clients.as('alice');
      await alice.ok('room:join', { roomId: 'general' });

      // Fill the disk; the WAL still has room for a few writes, so write until one fails.
      inServiceNamespace(`dd if=/dev/zero of='${mountPoint}/filler' bs=64k 2>/dev/null; true`);
      const big = 'x'.repeat(1900);
      let refused = false;
      for (let i = 0; i < 2000 && !refused; i++) {
        const reply = await alice.request('room:message', { roomId: 'general', content: big });
        refused = !reply.ok;
      }
      expect(refused).toBe(true);
      const down = await ready();
      expect(down.status).toBe(503);
      expect(Object.keys(down.body.error ?? {})).toEqual(['sqlite']);

      inServiceNamespace(`rm -f '${mountPoint}/filler'`);
      const up = await ready();
      expect(up.status).toBe(200);
      await expect(
        alice.ok('room:message', { roomId: 'general', content: 'room again' }),
      ).resolves.toBeDefined();
    },
    60_000,
  );
});

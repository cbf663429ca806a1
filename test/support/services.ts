/**
 * Real backing services for integration tests. When one is unreachable the suite says so
 * loudly and skips; with REQUIRE_SERVICES=1 (CI) it fails instead.
 */
import pg from 'pg';
import { createConnection } from 'node:net';

export const POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const required = process.env.REQUIRE_SERVICES === '1';

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function postgresUp(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Resolves true when the service answers. Otherwise prints a loud notice and resolves
 * false, or throws when REQUIRE_SERVICES=1.
 */
export async function serviceAvailable(name: 'postgres' | 'redis'): Promise<boolean> {
  const problem =
    name === 'postgres'
      ? await postgresUp()
      : (await portOpen('127.0.0.1', Number(new URL(REDIS_URL).port || 6379)))
        ? undefined
        : 'connection refused';
  if (problem === undefined) return true;
  const message = `${name} is unreachable (${problem}): its integration tests are SKIPPED`;
  if (required)
    throw new Error(`${message.replace('SKIPPED', 'required')} because REQUIRE_SERVICES=1`);
  console.warn(`\n${'!'.repeat(78)}\n!! ${message}\n${'!'.repeat(78)}\n`);
  return false;
}

/** A schema name no other run uses, so parallel or repeated runs never collide. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

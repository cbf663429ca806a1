/**
 * The built service's logs: JSON lines on stdout when it is not a terminal (what a log
 * collector reads), LOG_LEVEL honoured, the periodic stats line at info, and one line per
 * wrong variable when the configuration is refused.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Clients } from '../support/chat-app.js';
import { ServerProcess } from '../support/server-process.js';

interface LogLine {
  level: string;
  time: string;
  context?: string;
  msg: string;
}

function parseLines(log: string): LogLine[] {
  return log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

describe('service logs', () => {
  let server: ServerProcess | undefined;
  let url = '';
  const clients = new Clients(() => url);

  afterEach(async () => {
    clients.closeAll();
    await server?.stop('SIGKILL');
    server = undefined;
  });

  it('should write one JSON error line per wrong variable and exit 1', async () => {
    server = new ServerProcess({ PORT: 'abc', DISPATCHER_WORKERS: '0', LOG_LEVEL: 'warn' });
    expect(await server.runToExit()).toBe(1);

    const lines = parseLines(server.log);
    expect(lines.map((line) => [line.level, line.context])).toEqual([
      ['error', 'Bootstrap'],
      ['error', 'Bootstrap'],
    ]);
    expect(lines[0].msg).toMatch(/^invalid configuration: PORT must be an integer .*"abc"$/);
    expect(lines[1].msg).toMatch(/^invalid configuration: DISPATCHER_WORKERS must be /);
  });

  it('should honour LOG_LEVEL=debug and log the stats line at info', async () => {
    server = new ServerProcess({ STORE: 'memory', LOG_LEVEL: 'debug', STATS_INTERVAL_MS: '100' });
    url = await server.start();
    await clients.as('alice');

    await server.waitForLog(/user alice online/);
    await server.waitForLog(/"context":"StatsReporter"/);
    const lines = parseLines(server.log);
    expect(lines.every((line) => !Number.isNaN(Date.parse(line.time)))).toBe(true);
    expect(lines.find((line) => line.msg.includes('user alice online'))).toMatchObject({
      level: 'debug',
      context: 'UsersService',
    });
    expect(lines.find((line) => line.context === 'StatsReporter')).toMatchObject({
      level: 'info',
      msg: expect.stringMatching(/^users \d+, rooms 3, jobs \d+ \(\+\d+\/s\), failed \d+/),
    });
  });

  it('should leave debug lines out at the default level', async () => {
    server = new ServerProcess({ STORE: 'memory' });
    url = await server.start();
    await clients.as('alice');
    // Answered once alice is online: a debug line about that would be written by now.
    expect((await (await clients.as('bob')).ok('user:list')).users).toHaveLength(2);
    expect(await server.stop('SIGTERM')).toBe(0);

    const levels = new Set(parseLines(server.log).map((line) => line.level));
    expect([...levels].sort()).toEqual(['info', 'warn']); // warn: open mode
  });
});

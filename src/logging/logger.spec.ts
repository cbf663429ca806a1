import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { LogLevelName } from '../config/app-config.js';
import { createLogger, wantsPrettyLogs, type PinoNestLogger } from './logger.js';

/** A logger writing JSON into `lines`, one parsed object a line. */
function capture(level: LogLevelName): {
  sut: PinoNestLogger;
  lines: Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  return { sut: createLogger({ level, pretty: false, destination }), lines };
}

describe('createLogger', () => {
  it('should write one JSON object a line with level, time, context and message', () => {
    const { sut, lines } = capture('info');

    sut.log('chat service on http://localhost:3000', 'Bootstrap');

    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        context: 'Bootstrap',
        msg: 'chat service on http://localhost:3000',
      }),
    ]);
    expect(Number.isNaN(Date.parse(lines[0].time as string))).toBe(false);
  });

  it('should write only LOG_LEVEL and what is more severe', () => {
    const { sut, lines } = capture('warn');

    sut.debug('d', 'Ctx');
    sut.log('i', 'Ctx');
    sut.warn('w', 'Ctx');
    sut.error('e', undefined, 'Ctx');

    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  it("should map Nest's verbose to pino's trace", () => {
    const { sut, lines } = capture('verbose');

    sut.verbose('v', 'Ctx');

    expect(lines).toEqual([expect.objectContaining({ level: 'trace', msg: 'v' })]);
  });

  it('should keep the stack Nest passes to error() in a field of its own', () => {
    const { sut, lines } = capture('info');
    const stack = new Error('boom').stack as string;

    sut.error('job of room:a failed', stack, 'DispatcherService');
    sut.error('no context', stack);

    expect(lines[0]).toMatchObject({ context: 'DispatcherService', stack });
    expect(lines[0].msg).toBe('job of room:a failed');
    expect(lines[1]).toMatchObject({ msg: 'no context', stack });
    expect(lines[1]).not.toHaveProperty('context');
  });

  it("should serve Nest's Logger once it is the app's logger", () => {
    const { sut, lines } = capture('info');
    Logger.overrideLogger(sut);
    try {
      new Logger('RoomsService').log('3 rooms ready');
      new Logger('ChatGateway').error('room:message failed');
    } finally {
      Logger.overrideLogger(false);
    }

    expect(lines.map((line) => [line.level, line.context, line.msg])).toEqual([
      ['info', 'RoomsService', '3 rooms ready'],
      ['error', 'ChatGateway', 'room:message failed'],
    ]);
  });
});

describe('wantsPrettyLogs', () => {
  it('should be pretty only at a terminal and outside production', () => {
    expect(wantsPrettyLogs('development', true)).toBe(true);
    expect(wantsPrettyLogs(undefined, true)).toBe(true);
    expect(wantsPrettyLogs('production', true)).toBe(false);
    expect(wantsPrettyLogs('development', false)).toBe(false);
  });
});

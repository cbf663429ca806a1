import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger as Pino } from 'pino';
import { createRequire } from 'node:module';
import type { LogLevelName } from '../config/app-config.js';

export interface LogOptions {
  /** LOG_LEVEL: this and everything more severe is written. */
  level: LogLevelName;
  /** Coloured lines for a person at a terminal instead of JSON. */
  pretty: boolean;
  /** Where lines go; default stdout, written synchronously so none is lost at exit. */
  destination?: DestinationStream;
}

/**
 * Nest's own start-up lines (modules, every route, the microservice): at `debug`, so that a
 * start says one line at `info` (main.ts) and the routes are still there when asked for.
 */
const STARTUP_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
  'NestMicroservice',
  'Server',
]);

/** pino-pretty, loaded only for a person at a terminal: a service never pays for it. */
function prettyStream(): typeof import('pino-pretty') {
  return createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
}

/** Pretty output for a person at a terminal; JSON for anything that collects logs. */
export function wantsPrettyLogs(
  nodeEnv: string | undefined,
  stdoutIsTTY = process.stdout.isTTY === true,
): boolean {
  return stdoutIsTTY && nodeEnv?.trim() !== 'production';
}

/** The process's pino logger: one JSON object a line (`level`, `time`, `context`, `msg`). */
export function createPino(options: LogOptions): Pino {
  // LOG_LEVEL uses Nest's names; Nest's `verbose` is pino's `trace`.
  const level = options.level === 'verbose' ? 'trace' : options.level;
  if (options.pretty) {
    return pino(
      { level },
      options.destination ??
        prettyStream()({
          colorize: true,
          sync: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,context',
          messageFormat: '{if context}[{context}] {end}{msg}',
        }),
    );
  }
  return pino(
    {
      level,
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A Nest logger (everything Nest and our classes log) writing through pino. */
export function createLogger(options: LogOptions): PinoNestLogger {
  return new PinoNestLogger(createPino(options));
}

/**
 * Nest's LoggerService over pino. Nest's Logger passes the class's context as the last
 * argument, and `error` a stack before it; they become the `context` and `stack` fields.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params.at(-1);
    const quiet = typeof context === 'string' && STARTUP_CONTEXTS.has(context);
    this.#write(quiet ? 'debug' : 'info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.#write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.#write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.#write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.#write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.#write('fatal', message, params, true);
  }

  #write(level: Level, message: unknown, params: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    let rest = params;
    // Logger('Ctx').error('x') arrives as ('x', undefined, 'Ctx'); a bare stack as ('x', stack).
    if (typeof rest.at(-1) === 'string' && !(withStack && rest.length === 1 && isStack(rest[0]))) {
      fields.context = rest.at(-1);
      rest = rest.slice(0, -1);
    }
    if (withStack && (rest[0] === undefined || typeof rest[0] === 'string')) {
      if (rest[0] !== undefined) fields.stack = rest[0];
      rest = rest.slice(1);
    }
    if (rest.length > 0) fields.params = rest;
    if (message instanceof Error) {
      fields.err = message;
      this.pino[level](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...message });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}

function isStack(value: unknown): boolean {
  return typeof value === 'string' && /\n\s+at /.test(value);
}

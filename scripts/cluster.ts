/**
 * Several instances of the built service as one chat, on local PostgreSQL and Redis: each
 * on a port of its own (PORT, PORT+1, ...), its output prefixed with its name, all stopped
 * together on Ctrl-C.
 *
 *   npm run cluster -- --instances 3
 *   DATABASE_SCHEMA=demo REDIS_PREFIX=demo: npm run cluster -- --port 4000
 *
 * Everything else in the environment reaches the instances as it is. Exit codes: 0 once
 * every instance stopped cleanly after Ctrl-C (SIGINT) or SIGTERM; 1 for bad arguments, or
 * when an instance did not start, died, stopped with an error or had to be killed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prettyFactory } from 'pino-pretty';
import { colourWanted } from './client/output.js';
import { ServiceProcess, type ServiceExit } from './lib/service-process.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const MAX_INSTANCES = 16;
/** Longer than the service's own wait for Redis (10 s) at start. */
const START_TIMEOUT_MS = 30_000;
/**
 * A second signal this soon after the first is the same Ctrl-C: the terminal sends it to
 * the script, and npm, which got it too, passes it on.
 */
const SAME_SIGNAL_MS = 500;

const USAGE = `usage: npm run cluster -- [--instances N] [--port PORT] [--json]

  --instances   how many instances, 1-${MAX_INSTANCES} (default 2)
  --port        the first one's port; the others take the next ones (default PORT or 3000)
  --json        print the instances' log lines as they are (JSON), not made readable

DATABASE_URL (default ${DEFAULT_DATABASE_URL}) and REDIS_URL
(default ${DEFAULT_REDIS_URL}) apply unless set; the rest of the environment
(DATABASE_SCHEMA, REDIS_PREFIX, AUTH_JWT_SECRET, ...) reaches every instance as it is.
Ctrl-C stops them all (a second one kills them). Needs a build: npm run build.`;

interface Settings {
  instances: number;
  firstPort: number;
  json: boolean;
}

/** Settings from the command line and PORT, or the reason they make no sense. */
function settings(argv: string[], env: NodeJS.ProcessEnv): Settings | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        instances: { type: 'string', short: 'n', default: '2' },
        port: { type: 'string', short: 'p' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (values.help) return '';
  const instances = Number(values.instances);
  if (!/^\d+$/.test(values.instances) || instances < 1 || instances > MAX_INSTANCES) {
    return `--instances: a whole number from 1 to ${MAX_INSTANCES}, not '${values.instances}'`;
  }
  const portFrom = values.port === undefined ? (env.PORT ? 'PORT' : undefined) : '--port';
  const portText = values.port ?? env.PORT ?? '3000';
  const firstPort = Number(portText);
  const lastPort = 65535 - (instances - 1);
  if (!/^\d+$/.test(portText) || firstPort < 1 || firstPort > lastPort) {
    return `${portFrom ?? 'port'}: a port from 1 to ${lastPort} for ${instances} instance(s), not '${portText}'`;
  }
  return { instances, firstPort, json: values.json };
}

/** A URL fit to print: its password hidden. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/** The first line of an error's message (the rest is the output, printed already). */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].replace(/:$/, '');
}

function describeExit({ code, signal }: ServiceExit): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

/** One instance: its process, its name, and how its lines are printed. */
class Instance {
  readonly process: ServiceProcess;
  /** Set once we have asked it to stop: its exit is then expected. */
  stopRequested = false;
  running = true;

  constructor(
    readonly name: string,
    port: number,
    env: NodeJS.ProcessEnv,
    mainJs: string,
    print: (instance: Instance, line: string) => void,
  ) {
    this.process = new ServiceProcess({
      baseEnv: env,
      env: { PORT: String(port) },
      args: [mainJs],
      keepOutput: false,
      onLine: (line) => print(this, line),
    });
  }

  stop(signal: NodeJS.Signals): void {
    this.stopRequested = true;
    if (this.running) this.process.signal(signal);
  }

  /** Whether it ended as asked: exit code 0, or our signal before it could handle it. */
  static stoppedCleanly(exit: ServiceExit): boolean {
    return exit.code === 0 || exit.signal === 'SIGTERM' || exit.signal === 'SIGINT';
  }
}

class Cluster {
  readonly #instances: Instance[];
  readonly #colour: boolean;
  readonly #pretty: ((line: string) => string) | undefined;
  readonly #width: number;
  /** When the first SIGINT, SIGTERM or SIGHUP came. */
  #stopping: number | undefined;
  #failed = false;

  constructor(settings: Settings, env: NodeJS.ProcessEnv, mainJs: string) {
    this.#colour = colourWanted(process.stdout, process.env);
    // Readable lines for a person at a terminal, as the service itself prints there.
    if (!settings.json && process.stdout.isTTY && env.NODE_ENV?.trim() !== 'production') {
      this.#pretty = prettyFactory({
        colorize: this.#colour,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,context',
        messageFormat: '{if context}[{context}] {end}{msg}',
      });
    }
    this.#instances = Array.from({ length: settings.instances }, (_, i) => {
      const port = settings.firstPort + i;
      return new Instance(`chat-${port}`, port, env, mainJs, (instance, line) =>
        this.#printLine(instance, line),
      );
    });
    this.#width = Math.max(...this.#instances.map((instance) => instance.name.length));
  }

  /** Starts every instance; resolves once all listen, or once they are all gone. */
  async run(): Promise<number> {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => this.#onSignal(signal));
    }
    const starts = this.#instances.map((instance) => instance.process.start(START_TIMEOUT_MS));
    const exits = this.#instances.map((instance) => this.#watch(instance)); // once spawned
    const started = await Promise.allSettled(starts);
    if (this.#stopping === undefined) {
      const failed = started.flatMap((result, i) =>
        result.status === 'rejected'
          ? [`${this.#instances[i].name} ${firstLine(result.reason)}`]
          : [],
      );
      if (failed.length > 0) {
        this.#failed = true;
        const others = started.length - failed.length;
        this.#say(`${failed.join('; ')}${others > 0 ? `: stopping the other ${others}` : ''}`);
        this.#stopAll('SIGTERM');
      } else {
        const urls = this.#instances.map((instance) => instance.process.url).join('  ');
        this.#say(`${this.#instances.length} instance(s) listening: ${urls}  (Ctrl-C stops them)`);
      }
    }
    await Promise.all(exits);
    return this.#failed ? 1 : 0;
  }

  /** Reports the instance's end; one nobody asked to stop leaves the others running. */
  async #watch(instance: Instance): Promise<void> {
    const exit = await instance.process.waitForExit();
    instance.running = false;
    const left = this.#instances.filter((other) => other.running).length;
    if (instance.stopRequested) {
      if (!Instance.stoppedCleanly(exit)) this.#failed = true;
      this.#say(`${instance.name} stopped (${describeExit(exit)})`);
      return;
    }
    if (instance.process.url === '') return; // did not start: run() says so
    this.#failed = true;
    this.#say(
      `${instance.name} exited unexpectedly (${describeExit(exit)}); ` +
        (left > 0 ? `${left} instance(s) still running` : 'none left'),
    );
  }

  #onSignal(signal: NodeJS.Signals): void {
    const running = this.#instances.filter((instance) => instance.running);
    if (this.#stopping === undefined) {
      this.#stopping = Date.now();
      this.#stopAll('SIGTERM');
      this.#say(`${signal}: stopping ${running.length} instance(s) (Ctrl-C again kills them)`);
    } else if (Date.now() - this.#stopping >= SAME_SIGNAL_MS) {
      this.#failed = true;
      this.#stopAll('SIGKILL');
      this.#say(`${signal} again: killing ${running.length} instance(s)`);
    }
  }

  #stopAll(signal: NodeJS.Signals): void {
    for (const instance of this.#instances) instance.stop(signal);
  }

  #printLine(instance: Instance, line: string): void {
    const index = this.#instances.indexOf(instance);
    const prefix = this.#paint(
      `${instance.name.padEnd(this.#width)} | `,
      PREFIX_COLOURS[index % PREFIX_COLOURS.length],
    );
    const text = this.#pretty && line.startsWith('{') ? this.#pretty(line) : line;
    const lines = text.replace(/\n$/, '').split('\n');
    process.stdout.write(lines.map((part) => prefix + part + '\n').join(''));
  }

  /** A line of the script's own, set apart from the instances' output. */
  #say(message: string): void {
    process.stdout.write(this.#paint(`cluster: ${message}`, '1') + '\n');
  }

  #paint(text: string, sgr: string): string {
    return this.#colour ? `\x1b[${sgr}m${text}\x1b[0m` : text;
  }
}

/** One colour per instance, as `docker compose` does: the six plain ones, then bright. */
const PREFIX_COLOURS = ['36', '33', '35', '32', '34', '31', '96', '93', '95', '92', '94', '91'];

async function main(): Promise<number> {
  const parsed = settings(process.argv.slice(2), process.env);
  if (parsed === '') {
    console.log(USAGE);
    return 0;
  }
  if (typeof parsed === 'string') {
    console.error(`${parsed}\n\n${USAGE}`);
    return 1;
  }
  // dist/scripts/cluster.js runs dist/src/main.js, wherever it is started from.
  const mainJs = fileURLToPath(new URL('../src/main.js', import.meta.url));
  if (!existsSync(mainJs)) {
    console.error(`${mainJs} is missing: build first (npm run build)`);
    return 1;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL || DEFAULT_REDIS_URL,
  };
  const where = [
    `PostgreSQL ${redacted(env.DATABASE_URL!)} (schema ${env.DATABASE_SCHEMA || 'public'})`,
    `Redis ${redacted(env.REDIS_URL!)}${env.REDIS_PREFIX ? ` (prefix ${env.REDIS_PREFIX})` : ''}`,
  ];
  console.log(`cluster: ${parsed.instances} instance(s) on ${where.join(' and ')}`);
  if (env.STORE && env.STORE !== 'postgres') {
    console.log(`cluster: STORE=${env.STORE} is set: the instances will not be one chat`);
  }
  return new Cluster(parsed, env, mainJs).run();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

import { spawn, type ChildProcess } from 'node:child_process';

export interface ServiceProcessOptions {
  /** Environment on top of `baseEnv`. */
  env?: Record<string, string>;
  /**
   * The environment `env` goes on top of; default a minimal one (PATH, NODE_ENV=test,
   * PORT=0, HOST=127.0.0.1). Give `process.env` to pass the caller's environment through.
   */
  baseEnv?: NodeJS.ProcessEnv;
  /** The command; default: this node running the built service, dist/src/main.js. */
  command?: string;
  args?: string[];
  /** Called with each line the service prints (stdout and stderr), without its newline. */
  onLine?: (line: string) => void;
  /**
   * Keep everything the service prints (`output`, `log`, `waitForLog`); default true. False
   * for a service that runs for long: the output is kept only until it listens (for the
   * error when it does not), then dropped as it comes.
   */
  keepOutput?: boolean;
}

/** How the process ended: an exit code, or the signal that ended it. */
export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const MINIMAL_ENV = {
  PATH: process.env.PATH ?? '',
  NODE_ENV: 'test',
  PORT: '0',
  HOST: '127.0.0.1',
};

/**
 * The service as a real process (restart and crash tests, benchmarks, `npm run cluster`):
 * started, awaited until it logs its URL, signalled, awaited until it exits. Everything it
 * prints is kept (unless `keepOutput` is false).
 */
export class ServiceProcess {
  readonly output: string[] = [];
  url = '';
  #child: ChildProcess | undefined;
  #exit: Promise<number | null> | undefined;
  /** Resolved once the process has exited and its output has been read to the end. */
  #closed: Promise<ServiceExit> | undefined;
  #listening = false;
  /** Woken by each chunk of output (waitForLog). */
  #outputWaiters: Array<() => void> = [];

  constructor(private readonly options: ServiceProcessOptions = {}) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get log(): string {
    return this.output.join('');
  }

  /** Starts the service and resolves with its URL once it listens. */
  async start(timeoutMs = 15_000): Promise<string> {
    const child = spawn(
      this.options.command ?? process.execPath,
      this.options.args ?? ['dist/src/main.js'],
      {
        env: { ...(this.options.baseEnv ?? MINIMAL_ENV), ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    this.#listening = false;
    this.#exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.#closed = new Promise((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    const onLine = this.options.onLine;
    if (onLine) {
      for (const stream of [child.stdout, child.stderr]) {
        let partial = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) onLine(line);
        });
        stream?.once('end', () => partial && onLine(partial));
      }
    }
    this.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no start within ${timeoutMs} ms:\n${this.log}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer | string): void => {
        if (this.#listening && this.options.keepOutput === false) return;
        this.output.push(chunk.toString());
        for (const wake of this.#outputWaiters.splice(0)) wake();
        if (this.#listening) return;
        const match = /chat service on (http:\/\/\S+)/.exec(this.log);
        if (match) {
          this.#listening = true;
          if (this.options.keepOutput === false) this.output.length = 0;
          clearTimeout(timer);
          resolve(match[1].replace('localhost', '127.0.0.1'));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void this.#exit?.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before listening:\n${this.log}`));
      });
    });
    return this.url;
  }

  /** Resolves with the first match of `pattern` in the output, printed already or to come. */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.log);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} in the output within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#outputWaiters.push(resolve);
      });
      clearTimeout(timer);
    }
  }

  /** Runs the service until it exits by itself; resolves with its exit code. */
  async runToExit(timeoutMs = 15_000): Promise<number | null> {
    await this.start(timeoutMs).catch(() => undefined);
    return this.exited(timeoutMs);
  }

  exited(timeoutMs = 15_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.#exit ?? Promise.resolve(null),
      new Promise<number | null>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${timeoutMs} ms`)),
          timeoutMs,
        );
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Resolves, however long it takes, once the process has ended and everything it printed
   * has been read (and passed to `onLine`): with its exit code or the signal that ended it
   * (at once when it was never started).
   */
  waitForExit(): Promise<ServiceExit> {
    return this.#closed ?? Promise.resolve({ code: null, signal: null });
  }

  /** Sends a signal and waits for the process to end; resolves with its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      return child?.exitCode ?? null;
    }
    child.kill(signal);
    return this.exited(timeoutMs);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }
}

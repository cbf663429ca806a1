import { spawn, type ChildProcess } from 'node:child_process';

/** The built service (dist/src/main.js) as a real process, for restart and crash tests. */
export class ServerProcess {
  readonly output: string[] = [];
  #child: ChildProcess | undefined;
  #exit: Promise<number | null> | undefined;
  url = '';

  constructor(private readonly env: Record<string, string>) {}

  /** Starts the service and resolves with its URL once it listens. */
  async start(timeoutMs = 15_000): Promise<string> {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no start within ${timeoutMs} ms:\n${this.log}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        this.output.push(text);
        const match = /chat service on (http:\/\/[^\s]+)/.exec(this.output.join(''));
        if (match) {
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

  /** Runs the service until it exits by itself; resolves with its exit code. */
  async runToExit(timeoutMs = 15_000): Promise<number | null> {
    await this.start(timeoutMs).catch(() => undefined);
    return this.exited(timeoutMs);
  }

  get log(): string {
    return this.output.join('');
  }

  exited(timeoutMs = 15_000): Promise<number | null> {
    return Promise.race([
      this.#exit ?? Promise.resolve(null),
      new Promise<number | null>((_, reject) =>
        setTimeout(
          () => reject(new Error(`still running after ${timeoutMs} ms`)),
          timeoutMs,
        ).unref(),
      ),
    ]);
  }

  /** Sends a signal and waits for the process to end; resolves with its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.#child === undefined || this.#child.exitCode !== null)
      return this.#child?.exitCode ?? null;
    this.#child.kill(signal);
    return this.exited();
  }
}

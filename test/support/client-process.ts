import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

interface WaitOptions {
  /** Only lines from this index on (see `mark()`). */
  from?: number;
  timeoutMs?: number;
  stream?: 'stdout' | 'stderr';
}

/**
 * The built terminal client (dist/scripts/client.js) as a child process: commands go to its
 * stdin, its output is kept line by line, and a test awaits the line it expects.
 */
export class ClientProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #closed: Promise<number | null>;
  #exitCode: number | null | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(args: string[], env: Record<string, string> = {}) {
    this.#child = spawn(process.execPath, ['dist/scripts/client.js', ...args], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: 'pipe',
    });
    this.#collect(this.#child.stdout, this.stdout);
    this.#collect(this.#child.stderr, this.stderr);
    // 'close' rather than 'exit': by then every line of output has been read.
    this.#closed = new Promise((resolve) => {
      this.#child.once('close', (code) => {
        this.#exitCode = code;
        this.#notify();
        resolve(code);
      });
    });
  }

  /** Types one line. */
  send(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Closes its input, as Ctrl-D would. */
  endInput(): void {
    this.#child.stdin.end();
  }

  /** Where the next stdout line will go: pass as `from` to wait only for what comes next. */
  mark(): number {
    return this.stdout.length;
  }

  /** Resolves with the first line (at or after `from`) that matches. */
  waitFor(pattern: RegExp, options: WaitOptions = {}): Promise<string> {
    const { from = 0, timeoutMs = 5000, stream = 'stdout' } = options;
    const lines = stream === 'stdout' ? this.stdout : this.stderr;
    const find = (): string | undefined => lines.slice(from).find((line) => pattern.test(line));
    const seen = find();
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const line = find();
        if (line !== undefined) done(() => resolve(line));
        else if (this.#exitCode !== undefined) {
          done(() => reject(this.#failure(`exited (${this.#exitCode}) before ${pattern}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(this.#failure(`no ${stream} line ${pattern} in ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        settle();
      };
      this.#listeners.add(check);
      if (this.#exitCode !== undefined) check();
    });
  }

  /** Sends a command and waits for a line of its output. */
  command(line: string, pattern: RegExp, timeoutMs?: number): Promise<string> {
    const from = this.mark();
    this.send(line);
    return this.waitFor(pattern, { from, timeoutMs });
  }

  /** The stdout lines (from `from` on) that match. */
  matching(pattern: RegExp, from = 0): string[] {
    return this.stdout.slice(from).filter((line) => pattern.test(line));
  }

  /** Resolves with the exit code once the process has ended by itself. */
  exited(timeoutMs = 5000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.#failure(`still running after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.#closed, late]).finally(() => clearTimeout(timer));
  }

  /** For afterEach: kills it if it still runs and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.#exitCode === undefined) this.#child.kill('SIGKILL');
    await this.#closed;
  }

  #collect(stream: NodeJS.ReadableStream, lines: string[]): void {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      this.#notify();
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #failure(what: string): Error {
    const tail = (lines: string[]) => lines.slice(-30).join('\n  ');
    return new Error(
      `terminal client: ${what}\nstdout:\n  ${tail(this.stdout)}\nstderr:\n  ${tail(this.stderr)}`,
    );
  }
}

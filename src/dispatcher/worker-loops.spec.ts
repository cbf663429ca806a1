import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Mailboxes } from './mailboxes.js';
import { WorkerLoops, type LoopHooks, type LoopOptions } from './worker-loops.js';

const OPTIONS: LoopOptions = {
  workers: 1,
  sliceJobs: 256,
  sliceMs: 2,
  yieldEveryMs: 5,
  maxLoopRestarts: 5,
  restartBackoffMs: 1_000,
  restartResetMs: 60_000,
};

describe(WorkerLoops.name, () => {
  let sut: WorkerLoops;
  let mailboxes: Mailboxes;

  function setup(
    options: Partial<LoopOptions> = {},
    hooks: LoopHooks = {},
    beforeTurn: () => void = () => undefined,
  ): void {
    sut = new WorkerLoops({ ...OPTIONS, ...options }, hooks, beforeTurn);
    mailboxes = new Mailboxes(sut, {}, 10_000);
  }

  afterEach(() => {
    sut?.stop();
    jest.useRealTimers();
  });

  it('should hand ready actors over a slice at a time', async () => {
    setup({ sliceJobs: 3 });
    const log: string[] = [];
    const a = mailboxes.createCell('a');
    const b = mailboxes.createCell('b');
    for (let i = 0; i < 5; i++) mailboxes.submit(a, (n: number) => void log.push(`a${n}`), i);
    for (let i = 0; i < 4; i++) mailboxes.submit(b, (n: number) => void log.push(`b${n}`), i);
    sut.start();
    await sut.drain();
    expect(log).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'a3', 'a4', 'b3']);
    expect(sut.stats()).toMatchObject({ jobsExecuted: 9, runQueueLength: 0 });
  });

  it('should run the turn hook before each slice', async () => {
    const turns: number[] = [];
    let ran = 0;
    setup({ sliceJobs: 1 }, {}, () => void turns.push(ran));
    const cell = mailboxes.createCell('a');
    for (let i = 0; i < 3; i++) mailboxes.submit(cell, () => void ran++, undefined);
    sut.start();
    await sut.drain();
    expect(turns.slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('should hold an actor during its async job and count the job when it settles', async () => {
    setup({ workers: 2 });
    let open!: () => void;
    const held = new Promise<void>((resolve) => (open = resolve));
    const cell = mailboxes.createCell('slow');
    const log: string[] = [];
    mailboxes.submit(cell, () => held, undefined);
    mailboxes.submit(cell, () => void log.push('next'), undefined);
    sut.start();
    await nextTurn();
    expect(log).toEqual([]);
    expect(sut.activeCells()).toEqual([cell]);
    expect(sut.stats().jobsExecuted).toBe(0);
    open();
    await sut.drain();
    expect(log).toEqual(['next']);
    expect(sut.stats()).toMatchObject({ jobsExecuted: 2, jobsFailed: 0 });
  });

  it('should count and report failed jobs and go on', async () => {
    const errors: string[] = [];
    setup({}, { onJobError: (e, actor) => void errors.push(`${actor}: ${(e as Error).message}`) });
    const cell = mailboxes.createCell('fragile');
    mailboxes.submit(
      cell,
      () => {
        throw new Error('sync');
      },
      undefined,
    );
    mailboxes.submit(cell, () => Promise.reject(new Error('async')), undefined);
    mailboxes.submit(cell, () => undefined, undefined);
    sut.start();
    await sut.drain();
    expect(errors).toEqual(['fragile: sync', 'fragile: async']);
    expect(sut.stats()).toMatchObject({ jobsExecuted: 3, jobsFailed: 2 });
  });

  it('should resolve drain at once when nothing is queued or running', async () => {
    setup();
    await expect(sut.drain()).resolves.toBeUndefined();
  });

  describe('supervision', () => {
    it('should start the back-off afresh for a loop that ran long before crashing', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      const crashes: number[] = [];
      let crashNext = true;
      setup(
        { restartBackoffMs: 1000, restartResetMs: 60_000 },
        { onLoopCrash: (_slot, _error, delayMs) => void crashes.push(delayMs) },
        () => {
          if (!crashNext) return;
          crashNext = false;
          throw new Error('turn failed');
        },
      );
      const cell = mailboxes.createCell('a');
      const wake = (): void => void mailboxes.submit(cell, () => undefined, undefined);
      sut.start();
      await jest.advanceTimersByTimeAsync(0);
      crashNext = true;
      await jest.advanceTimersByTimeAsync(1000); // restarted, crashes at once again
      expect(crashes).toEqual([1000, 2000]);
      await jest.advanceTimersByTimeAsync(2000); // restarted: runs, then idles
      await jest.advanceTimersByTimeAsync(60_000);
      crashNext = true;
      wake(); // the idle loop takes a turn and crashes, 60 s after it started
      await jest.advanceTimersByTimeAsync(0);
      expect(crashes).toEqual([1000, 2000, 1000]);
      expect(sut.stats()).toMatchObject({ loopRestarts: 3, loopsDown: 0 });
    });

    it('should cancel a pending restart on stop', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      const onLoopCrash = jest.fn();
      setup({}, { onLoopCrash }, () => {
        throw new Error('turn failed');
      });
      sut.start();
      await jest.advanceTimersByTimeAsync(0);
      expect(onLoopCrash).toHaveBeenCalledTimes(1);
      sut.stop();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(onLoopCrash).toHaveBeenCalledTimes(1);
      expect(sut.stats()).toMatchObject({ loopsUp: 0, loopRestarts: 1 });
    });
  });
});

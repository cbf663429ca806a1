import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Actor } from './actor.js';
import type { MailboxOptions } from './cell.js';
import type { Job } from './mailbox.js';
import { Dispatcher, type DispatcherHooks, type DispatcherOptions } from './dispatcher.js';
import { MailboxFullError, NotAcceptingError, ReentrantAskError } from './errors.js';

/** Exposes the protected queueing API so tests can drive an actor directly. */
class Probe extends Actor {
  constructor(dispatcher: Dispatcher, name: string, mailbox: MailboxOptions = {}) {
    super(dispatcher, { name, ...mailbox });
  }
  run(job: Job): boolean {
    return this.enqueue(job);
  }
  runWith<S>(fn: (state: S) => void, state: S): boolean {
    return this.enqueueWith(fn, state);
  }
  later(delayMs: number, job: Job) {
    return this.enqueueAfter(delayMs, job);
  }
  heartbeat(intervalMs: number, job: () => void) {
    return this.every(intervalMs, job);
  }
  query<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.ask(fn);
  }
}

/** A promise to resolve by hand: lets a test hold an async job open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe(Dispatcher.name, () => {
  let sut: Dispatcher;

  function startDispatcher(
    options: Partial<DispatcherOptions> = {},
    hooks: DispatcherHooks = {},
  ): Dispatcher {
    sut = new Dispatcher({ monitorEventLoop: false, ...options }, hooks);
    sut.start();
    return sut;
  }

  afterEach(async () => {
    jest.useRealTimers();
    await sut?.close(1000);
  });

  it('should run each producer’s jobs in the order they were queued', async () => {
    startDispatcher({ workers: 4 });
    const actor = new Probe(sut, 'ordered', { capacity: 100_000 });
    const seen: string[] = [];
    const queued: string[] = [];
    const producer = async (p: number): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        const tag = `${p}:${i}`;
        queued.push(tag);
        actor.run(() => void seen.push(tag));
        if (i % (p + 2) === 0) await nextTurn();
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, p) => producer(p)));
    await sut.drain();
    expect(seen).toEqual(queued);
  });

  it('should never overlap async jobs of one actor while different actors overlap up to N', async () => {
    startDispatcher({ workers: 2 });
    const actors = [0, 1, 2].map((i) => new Probe(sut, `a${i}`));
    let running = 0;
    let maxRunning = 0;
    const perActor = [0, 0, 0];
    let perActorMax = 0;
    const gates = Array.from({ length: 6 }, gate);
    const started: number[] = [];
    gates.forEach((g, i) => {
      const a = i % 3;
      actors[a].run(async () => {
        started.push(i);
        running++;
        perActor[a]++;
        maxRunning = Math.max(maxRunning, running);
        perActorMax = Math.max(perActorMax, perActor[a]);
        await g.promise;
        perActor[a]--;
        running--;
      });
    });
    await nextTurn();
    expect(running).toBe(2); // N loops: two actors inside a job at once, the third waits
    for (const g of gates) {
      g.open();
      await nextTurn();
    }
    await sut.drain();
    expect(maxRunning).toBe(2);
    expect(perActorMax).toBe(1);
    expect(started.filter((i) => i % 3 === 0)).toEqual([0, 3]);
  });

  it('should not let a flooded actor delay a quiet one by more than a few slices', async () => {
    const sliceJobs = 16;
    startDispatcher({ workers: 1, sliceJobs });
    const flooded = new Probe(sut, 'flooded', { capacity: 20_000 });
    const quiet = new Probe(sut, 'quiet');
    const log: string[] = [];
    for (let i = 0; i < 10_000; i++) flooded.run(() => void log.push('f'));
    quiet.run(() => void log.push('q'));
    await sut.drain();
    expect(log).toHaveLength(10_001);
    expect(log.indexOf('q')).toBeLessThanOrEqual(2 * sliceJobs);
  });

  it('should pass explicit state to a job without a closure', async () => {
    startDispatcher();
    const actor = new Probe(sut, 'stateful');
    const seen: number[] = [];
    const record = (n: number): void => void seen.push(n);
    for (let i = 0; i < 5; i++) actor.runWith(record, i);
    await sut.drain();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  describe('delayed jobs', () => {
    it('should fire in due order, ties in submission order', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      startDispatcher();
      const actor = new Probe(sut, 'timed');
      const fired: string[] = [];
      actor.later(30, () => void fired.push('30'));
      actor.later(10, () => void fired.push('10'));
      actor.later(20, () => void fired.push('20a'));
      actor.later(20, () => void fired.push('20b'));
      const cancelled = actor.later(15, () => void fired.push('cancelled'));
      cancelled.cancel();
      expect(sut.metrics().delayedPending).toBe(4);
      await jest.advanceTimersByTimeAsync(9);
      expect(fired).toEqual([]);
      await jest.advanceTimersByTimeAsync(25);
      await sut.drain();
      expect(fired).toEqual(['10', '20a', '20b', '30']);
      expect(sut.metrics().delayedPending).toBe(0);
    });

    it('should go through the mailbox: a due job waits for the running job', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      startDispatcher();
      const actor = new Probe(sut, 'busy');
      const hold = gate();
      const log: string[] = [];
      actor.run(async () => {
        log.push('slow:start');
        await hold.promise;
        log.push('slow:end');
      });
      actor.later(5, () => void log.push('delayed'));
      await jest.advanceTimersByTimeAsync(50);
      expect(log).toEqual(['slow:start']);
      hold.open();
      await sut.drain();
      expect(log).toEqual(['slow:start', 'slow:end', 'delayed']);
    });

    it('should re-arm a heartbeat until it is cancelled or the actor stops', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      startDispatcher();
      const actor = new Probe(sut, 'beating');
      let beats = 0;
      actor.heartbeat(100, () => void beats++);
      await jest.advanceTimersByTimeAsync(350);
      expect(beats).toBe(3);
      actor.stop();
      await jest.advanceTimersByTimeAsync(500);
      expect(beats).toBe(3);
      expect(sut.metrics().delayedPending).toBe(0);
    });
  });

  describe('bounded mailboxes', () => {
    it('should refuse jobs past capacity and report drops with the reject policy', async () => {
      sut = new Dispatcher({ monitorEventLoop: false }); // not started: jobs pile up
      const dropped: string[] = [];
      const actor = new Probe(sut, 'small', {
        capacity: 3,
        overflow: 'reject',
        onDropped: (name) => dropped.push(name),
      });
      const accepted = [1, 2, 3, 4].map(() => actor.run(() => undefined));
      expect(accepted).toEqual([true, true, true, false]);
      expect(dropped).toEqual(['small']);
      await expect(actor.query(() => 1)).rejects.toBeInstanceOf(MailboxFullError);
      expect(sut.metrics().jobsDropped).toBe(2);
      expect(actor.mailboxDepth).toBe(3);
    });

    it('should refuse quietly with the silent policy, still telling the caller', () => {
      sut = new Dispatcher({ monitorEventLoop: false });
      const onDropped = jest.fn();
      const actor = new Probe(sut, 'quiet', { capacity: 1, overflow: 'silent', onDropped });
      expect(actor.run(() => undefined)).toBe(true);
      expect(actor.run(() => undefined)).toBe(false);
      expect(onDropped).not.toHaveBeenCalled();
    });
  });

  it('should isolate failures: count and report them, and go on with the next job', async () => {
    const errors: Array<[string, string]> = [];
    startDispatcher({}, { onJobError: (e, actor) => errors.push([actor, (e as Error).message]) });
    const actor = new Probe(sut, 'fragile');
    const log: string[] = [];
    actor.run(() => {
      throw new Error('sync boom');
    });
    actor.run(async () => {
      await nextTurn();
      throw new Error('async boom');
    });
    actor.run(() => void log.push('still alive'));
    await sut.drain();
    expect(log).toEqual(['still alive']);
    expect(errors).toEqual([
      ['fragile', 'sync boom'],
      ['fragile', 'async boom'],
    ]);
    expect(sut.metrics()).toMatchObject({ jobsExecuted: 3, jobsFailed: 2 });
  });

  describe('ask', () => {
    it('should resolve with the result, in mailbox order, sync or async', async () => {
      startDispatcher();
      const actor = new Probe(sut, 'asked');
      let state = 0;
      actor.run(() => void (state = 41));
      await expect(actor.query(() => state + 1)).resolves.toBe(42);
      await expect(
        actor.query(async () => {
          await nextTurn();
          return 'later';
        }),
      ).resolves.toBe('later');
    });

    it('should reject with the job’s error', async () => {
      startDispatcher({}, { onJobError: () => undefined });
      const actor = new Probe(sut, 'asked');
      await expect(
        actor.query(() => {
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      await expect(actor.query(() => Promise.reject(new Error('async no')))).rejects.toThrow(
        'async no',
      );
    });

    it('should reject an ask of the actor on itself instead of hanging', async () => {
      startDispatcher();
      const actor = new Probe(sut, 'self');
      const outcome = actor.query(() => actor.query(() => 1));
      await expect(outcome).rejects.toBeInstanceOf(ReentrantAskError);
      await expect(outcome).rejects.toThrow('self -> self');
    });

    it('should reject an ask cycle between two actors instead of hanging', async () => {
      startDispatcher();
      const a = new Probe(sut, 'a');
      const b = new Probe(sut, 'b');
      const outcome = a.query(() => b.query(() => a.query(() => 'never')));
      await expect(outcome).rejects.toThrow('a -> b -> a');
    });

    it('should allow asks down a chain that has no cycle', async () => {
      startDispatcher();
      const a = new Probe(sut, 'a');
      const b = new Probe(sut, 'b');
      const c = new Probe(sut, 'c');
      await expect(a.query(() => b.query(() => c.query(() => 'leaf')))).resolves.toBe('leaf');
    });
  });

  describe('shutdown', () => {
    it('should drain every mailbox, then refuse new jobs', async () => {
      startDispatcher({ workers: 2 });
      const actors = Array.from({ length: 20 }, (_, i) => new Probe(sut, `d${i}`));
      let done = 0;
      for (const actor of actors) {
        for (let i = 0; i < 50; i++) {
          actor.run(
            i % 10 === 0
              ? async () => {
                  await nextTurn();
                  done++;
                }
              : () => void done++,
          );
        }
      }
      const result = await sut.close(5000);
      expect(result).toEqual({ drained: true, remaining: 0 });
      expect(done).toBe(1000);
      expect(actors[0].run(() => undefined)).toBe(false);
      await expect(actors[0].query(() => 1)).rejects.toBeInstanceOf(NotAcceptingError);
    });

    it('should still run follow-up jobs that draining jobs queue', async () => {
      startDispatcher();
      const room = new Probe(sut, 'room');
      const user = new Probe(sut, 'user');
      const delivered: number[] = [];
      for (let i = 0; i < 3; i++) room.run(() => void user.run(() => void delivered.push(i)));
      await sut.close(5000);
      expect(delivered).toEqual([0, 1, 2]);
    });

    it('should give up waiting after the timeout and say how much was left', async () => {
      startDispatcher();
      const actor = new Probe(sut, 'stuck');
      const hold = gate();
      actor.run(() => hold.promise);
      actor.run(() => undefined);
      const result = await sut.close(20);
      expect(result).toEqual({ drained: false, remaining: 1 }); // the held job runs, one waits
      hold.open();
    });
  });

  describe('supervision', () => {
    it('should restart a crashed loop with exponential back-off, then report it down', async () => {
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
      const crashes: number[] = [];
      const down: number[] = [];
      startDispatcher(
        { workers: 1, maxLoopRestarts: 2, restartBackoffMs: 1000 },
        {
          // A reporter that throws is a runtime bug: it takes the loop down with it.
          onJobError: () => {
            throw new Error('broken error hook');
          },
          onLoopCrash: (_slot, _error, delayMs) => crashes.push(delayMs),
          onLoopDown: (slot) => down.push(slot),
        },
      );
      const actor = new Probe(sut, 'crashy');
      const ran: string[] = [];
      actor.run(() => {
        throw new Error('first');
      });
      actor.run(() => void ran.push('after first crash'));
      await jest.advanceTimersByTimeAsync(0);
      expect(crashes).toEqual([1000]);
      expect(ran).toEqual([]);
      await jest.advanceTimersByTimeAsync(1000);
      expect(ran).toEqual(['after first crash']); // restarted, and the actor was not lost
      actor.run(() => {
        throw new Error('second');
      });
      await jest.advanceTimersByTimeAsync(0);
      expect(crashes).toEqual([1000, 2000]);
      await jest.advanceTimersByTimeAsync(2000);
      actor.run(() => {
        throw new Error('third');
      });
      await jest.advanceTimersByTimeAsync(0);
      expect(down).toEqual([0]);
      expect(sut.metrics()).toMatchObject({ loopRestarts: 2, loopsDown: 1, loopsUp: 0 });
    });
  });

  it('should report queue depths in its metrics', () => {
    sut = new Dispatcher({ monitorEventLoop: false });
    const deep = new Probe(sut, 'deep');
    const shallow = new Probe(sut, 'shallow');
    for (let i = 0; i < 5; i++) deep.run(() => undefined);
    shallow.run(() => undefined);
    const metrics = sut.metrics();
    expect(metrics.deepestMailboxes).toEqual([
      { actor: 'deep', depth: 5 },
      { actor: 'shallow', depth: 1 },
    ]);
    expect(metrics).toMatchObject({ runQueueLength: 2, jobsQueued: 6 });
  });
});

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { ActorCell } from './cell.js';
import { DelayedJobs } from './delayed-jobs.js';
import { MailboxFullError } from './errors.js';
import { Mailboxes } from './mailboxes.js';

/** Runs what reached the mailbox, which is all a delayed job may do when due. */
function runAll(cell: ActorCell): void {
  while (cell.mailbox.length > 0) void cell.mailbox.runNext();
}

describe(DelayedJobs.name, () => {
  let mailboxes: Mailboxes;
  let errors: Array<[unknown, string]>;

  function setup(maxDuePerTurn = 256): DelayedJobs {
    return new DelayedJobs(
      mailboxes,
      { onJobError: (error, actor) => void errors.push([error, actor]) },
      maxDuePerTurn,
    );
  }

  beforeEach(() => {
    jest.useFakeTimers();
    mailboxes = new Mailboxes({ makeReady: () => undefined }, {}, 100);
    errors = [];
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('should queue due jobs in the mailbox, in due order, ties in submission order', () => {
    const sut = setup();
    const cell = mailboxes.createCell('timed');
    const fired: string[] = [];
    sut.schedule(cell, 30, () => void fired.push('30'));
    sut.schedule(cell, 10, () => void fired.push('10'));
    sut.schedule(cell, 20, () => void fired.push('20a'));
    sut.schedule(cell, 20, () => void fired.push('20b'));
    jest.advanceTimersByTime(9);
    expect(cell.depth).toBe(0);
    jest.advanceTimersByTime(25);
    expect(fired).toEqual([]); // queued, not run: only a worker loop runs jobs
    expect(cell.depth).toBe(4);
    runAll(cell);
    expect(fired).toEqual(['10', '20a', '20b', '30']);
    expect(sut.pending).toBe(0);
  });

  it('should move at most maxDuePerTurn jobs a turn', () => {
    const sut = setup(2);
    const cell = mailboxes.createCell('many');
    // Due at once; fake time stands still, so the wake timer does not get to run.
    for (let i = 0; i < 5; i++) sut.schedule(cell, 0, () => undefined);
    sut.fireIfDue();
    expect(cell.depth).toBe(2);
    sut.fireIfDue();
    expect(cell.depth).toBe(4);
    expect(sut.pending).toBe(1);
  });

  it('should do nothing in a turn when no job is due', () => {
    const sut = setup();
    const cell = mailboxes.createCell('early');
    sut.schedule(cell, 10, () => undefined);
    sut.fireIfDue();
    expect(cell.depth).toBe(0);
    expect(sut.pending).toBe(1);
  });

  it('should drop cancelled jobs, one by one, per actor, or all', () => {
    const sut = setup();
    const a = mailboxes.createCell('a');
    const b = mailboxes.createCell('b');
    const one = sut.schedule(a, 10, () => undefined);
    sut.schedule(a, 10, () => undefined);
    sut.schedule(b, 10, () => undefined);
    sut.schedule(b, 20, () => undefined);
    one.cancel();
    one.cancel();
    expect(sut.pending).toBe(3);
    sut.cancelFor(a);
    expect(sut.pending).toBe(2);
    sut.cancelAll();
    expect(sut.pending).toBe(0);
    jest.advanceTimersByTime(100);
    expect(a.depth + b.depth).toBe(0);
  });

  it('should ignore a cancel after the job fired', () => {
    const sut = setup();
    const cell = mailboxes.createCell('a');
    const handle = sut.schedule(cell, 10, () => undefined);
    sut.schedule(cell, 50, () => undefined);
    jest.advanceTimersByTime(10);
    handle.cancel();
    expect(sut.pending).toBe(1);
  });

  it('should not take jobs for a stopped actor or after the gate closed', () => {
    const sut = setup();
    const stopped = mailboxes.createCell('stopped');
    stopped.stopped = true;
    sut.schedule(stopped, 10, () => undefined);
    mailboxes.close();
    sut.schedule(mailboxes.createCell('late'), 10, () => undefined);
    expect(sut.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('should report a due job its mailbox refuses as a job error', () => {
    const sut = setup();
    const cell = mailboxes.createCell('full', { capacity: 1 });
    mailboxes.submit(cell, () => undefined, undefined);
    sut.schedule(cell, 10, () => undefined);
    jest.advanceTimersByTime(10);
    expect(errors).toEqual([[new MailboxFullError('full', 1), 'full']]);
  });
});

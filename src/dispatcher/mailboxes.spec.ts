import { describe, expect, it, jest } from '@jest/globals';
import type { ActorCell } from './cell.js';
import { MailboxFullError, NotAcceptingError, ReentrantAskError } from './errors.js';
import { Mailboxes, onStack, type MailboxHooks } from './mailboxes.js';

/** Stands in for the worker loops: records which actors were made ready. */
class ReadyLog {
  readonly cells: ActorCell[] = [];
  makeReady(cell: ActorCell): void {
    this.cells.push(cell);
  }
}

/** Runs a cell's mailbox the way a loop does, with the cell marked as on the stack. */
function runAll(cell: ActorCell): void {
  onStack.cell = cell;
  try {
    while (cell.mailbox.length > 0) void cell.mailbox.runNext();
  } finally {
    onStack.cell = undefined;
    onStack.chain = undefined;
  }
}

describe(Mailboxes.name, () => {
  function setup(hooks: MailboxHooks = {}, defaultCapacity = 100) {
    const ready = new ReadyLog();
    return { sut: new Mailboxes(ready, hooks, defaultCapacity), ready };
  }

  it('should make an actor ready once until the loops unschedule it', () => {
    const { sut, ready } = setup();
    const cell = sut.createCell('a');
    sut.submit(cell, () => undefined, undefined);
    sut.submit(cell, () => undefined, undefined);
    expect(ready.cells).toEqual([cell]);
    expect(cell.depth).toBe(2);
    runAll(cell);
    cell.scheduled = false;
    sut.submit(cell, () => undefined, undefined);
    expect(ready.cells).toEqual([cell, cell]);
  });

  it('should pass the state to the job', () => {
    const { sut } = setup();
    const cell = sut.createCell('a');
    const seen: number[] = [];
    sut.submit(cell, (n: number) => void seen.push(n), 42);
    runAll(cell);
    expect(seen).toEqual([42]);
  });

  it('should take the default capacity unless the actor sets one, and refuse a bad one', () => {
    const { sut } = setup({}, 7);
    expect(sut.createCell('a').capacity).toBe(7);
    expect(sut.createCell('b', { capacity: 2 }).capacity).toBe(2);
    expect(() => sut.createCell('c', { capacity: 0 })).toThrow(RangeError);
  });

  describe('refusals', () => {
    it('should count a drop and call both hooks with the reject policy', () => {
      const onJobDropped = jest.fn();
      const onDropped = jest.fn();
      const { sut } = setup({ onJobDropped });
      const cell = sut.createCell('small', { capacity: 1, onDropped });
      expect(sut.submit(cell, () => undefined, undefined)).toBeUndefined();
      expect(sut.submit(cell, () => undefined, undefined)).toBeInstanceOf(MailboxFullError);
      expect(onDropped).toHaveBeenCalledWith('small');
      expect(onJobDropped).toHaveBeenCalledWith('small');
      expect(sut.dropped).toBe(1);
    });

    it('should count a drop but call no hook with the silent policy', () => {
      const onJobDropped = jest.fn();
      const onDropped = jest.fn();
      const { sut } = setup({ onJobDropped });
      const cell = sut.createCell('quiet', { capacity: 1, overflow: 'silent', onDropped });
      sut.submit(cell, () => undefined, undefined);
      expect(sut.submit(cell, () => undefined, undefined)).toBeInstanceOf(MailboxFullError);
      expect(onDropped).not.toHaveBeenCalled();
      expect(onJobDropped).not.toHaveBeenCalled();
      expect(sut.dropped).toBe(1);
    });

    it('should refuse a stopped actor', () => {
      const { sut, ready } = setup();
      const cell = sut.createCell('gone');
      cell.stopped = true;
      expect(sut.submit(cell, () => undefined, undefined)).toEqual(
        new NotAcceptingError('gone', 'actor stopped'),
      );
      expect(ready.cells).toEqual([]);
    });

    it('should refuse new work once closed but let a running job queue follow-ups', () => {
      const { sut } = setup();
      const room = sut.createCell('room');
      const user = sut.createCell('user');
      const delivered: string[] = [];
      sut.submit(
        room,
        () => void sut.submit(user, () => void delivered.push('follow-up'), undefined),
        undefined,
      );
      sut.close();
      expect(sut.accepting).toBe(false);
      expect(sut.submit(room, () => undefined, undefined)).toBeInstanceOf(NotAcceptingError);
      runAll(room);
      runAll(user);
      expect(delivered).toEqual(['follow-up']);
    });
  });

  describe('ask', () => {
    it('should resolve with the result once the job has run', async () => {
      const { sut } = setup();
      const cell = sut.createCell('a');
      const answer = sut.ask(cell, () => 42);
      runAll(cell);
      await expect(answer).resolves.toBe(42);
    });

    it('should reject with the refusal when the job cannot be queued', async () => {
      const { sut } = setup();
      const cell = sut.createCell('a');
      sut.close();
      await expect(sut.ask(cell, () => 1)).rejects.toBeInstanceOf(NotAcceptingError);
    });

    it('should hold the mailbox for an async answer unless detached', async () => {
      const { sut } = setup();
      const cell = sut.createCell('a');
      void sut.ask(cell, () => Promise.resolve('held'));
      void sut.ask(cell, () => Promise.resolve('detached'), true);
      onStack.cell = cell;
      const held = cell.mailbox.runNext();
      const detached = cell.mailbox.runNext();
      onStack.cell = undefined;
      expect(held).toBeInstanceOf(Promise);
      expect(detached).toBeUndefined();
      await held;
    });

    it('should reject an ask cycle from inside a job, naming the chain', async () => {
      const { sut } = setup();
      const a = sut.createCell('a');
      const b = sut.createCell('b');
      let inner: Promise<unknown> | undefined;
      const outer = sut.ask(a, () => {
        inner = sut.ask(b, () => sut.ask(a, () => 'never'));
        return 'outer';
      });
      runAll(a);
      await expect(outer).resolves.toBe('outer');
      runAll(b);
      await expect(inner).rejects.toBeInstanceOf(ReentrantAskError);
      await expect(inner).rejects.toThrow('ask cycle a -> b -> a');
    });

    it('should reject a self-ask at once, without queueing it', async () => {
      const { sut } = setup();
      const cell = sut.createCell('self');
      let inner: Promise<unknown> | undefined;
      sut.submit(cell, () => void (inner = sut.ask(cell, () => 1)), undefined);
      runAll(cell);
      expect(cell.depth).toBe(0);
      await expect(inner).rejects.toThrow('ask cycle self -> self');
    });
  });
});

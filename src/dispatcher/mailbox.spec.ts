import { describe, expect, it } from '@jest/globals';
import { Mailbox } from './mailbox.js';

describe(Mailbox.name, () => {
  it('should run entries first in, first out, passing each its state', () => {
    const sut = new Mailbox();
    const seen: string[] = [];
    sut.push(() => void seen.push('plain'), undefined);
    sut.push((n: number) => void seen.push(`n=${n}`), 7);
    sut.push((s: { tag: string }) => void seen.push(s.tag), { tag: 'object' });
    expect(sut.length).toBe(3);
    while (sut.length > 0) sut.runNext();
    expect(seen).toEqual(['plain', 'n=7', 'object']);
  });

  it('should keep the order while it grows around a wrapped head', () => {
    const sut = new Mailbox();
    const seen: number[] = [];
    const record = (n: number): void => void seen.push(n);
    let pushed = 0;
    // Half in, a few out, so the head is mid-array when the ring has to grow, twice.
    for (; pushed < 6; pushed++) sut.push(record, pushed);
    for (let i = 0; i < 4; i++) sut.runNext();
    for (; pushed < 40; pushed++) sut.push(record, pushed);
    expect(sut.length).toBe(36);
    while (sut.length > 0) sut.runNext();
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('should return what the job returned', async () => {
    const sut = new Mailbox();
    sut.push(() => Promise.resolve(), undefined);
    sut.push(() => undefined, undefined);
    await expect(sut.runNext()).resolves.toBeUndefined();
    expect(sut.runNext()).toBeUndefined();
  });

  it('should take a throwing job off before the error propagates', () => {
    const sut = new Mailbox();
    const seen: string[] = [];
    sut.push(() => {
      throw new Error('boom');
    }, undefined);
    sut.push(() => void seen.push('next'), undefined);
    expect(() => sut.runNext()).toThrow('boom');
    expect(sut.length).toBe(1);
    sut.runNext();
    expect(seen).toEqual(['next']);
  });
});

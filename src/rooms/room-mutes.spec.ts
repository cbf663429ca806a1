import { describe, expect, it } from '@jest/globals';
import { RoomMutes } from './room-mutes.js';

describe(RoomMutes.name, () => {
  it('should keep a user muted until the mute ends, and free it after', () => {
    const sut = new RoomMutes();
    const until = sut.mute('bob', 60, 1_000);
    expect(until).toBe(61_000);
    expect(sut.mutedUntil('bob', 60_999)).toBe(61_000);
    expect(sut.mutedUntil('bob', 61_000)).toBeUndefined();
    expect(sut.mutedUntil('alice', 1_000)).toBeUndefined();
  });

  it('should lift a mute early, and say whether there was one', () => {
    const sut = new RoomMutes();
    sut.mute('bob', 60, 0);
    expect(sut.lift('bob')).toBe(true);
    expect(sut.mutedUntil('bob', 1)).toBeUndefined();
    expect(sut.lift('bob')).toBe(false);
  });

  it('should forget ended mutes when a new one is given', () => {
    const sut = new RoomMutes();
    sut.mute('bob', 1, 0);
    sut.mute('carol', 60, 5_000); // bob's ended at 1,000
    expect(sut.lift('bob')).toBe(false);
    expect(sut.mutedUntil('carol', 5_000)).toBe(65_000);
  });
});

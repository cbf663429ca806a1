import { describe, expect, it } from '@jest/globals';
import { LocalPresence } from './presence.js';

const user = (id: string) => ({ id, name: id.toUpperCase() });

describe(LocalPresence.name, () => {
  it('should announce a user once when it arrives and once when it departs', async () => {
    const sut = new LocalPresence(0);
    await expect(sut.arrived(user('a'))).resolves.toEqual({ announce: true, toEveryone: true });
    await expect(sut.arrived(user('a'))).resolves.toEqual({ announce: false, toEveryone: false });
    expect(await sut.list()).toEqual([user('a')]);
    await expect(sut.departed(user('a'))).resolves.toEqual({ announce: true, toEveryone: true });
    await expect(sut.departed(user('a'))).resolves.toEqual({ announce: false, toEveryone: false });
    expect(await sut.list()).toEqual([]);
  });

  it('should tell only the subject of its connect past PRESENCE_BROADCAST_MAX_USERS, and everyone of its disconnect once back within it', async () => {
    const sut = new LocalPresence(2);
    await sut.arrived(user('a'));
    await sut.arrived(user('b'));
    await expect(sut.arrived(user('c'))).resolves.toEqual({ announce: true, toEveryone: false });
    // Three online, one over the limit: c's connect went to c only, so its disconnect goes nowhere.
    await expect(sut.departed(user('c'))).resolves.toEqual({ announce: true, toEveryone: false });
    await sut.arrived(user('c'));
    await sut.departed(user('a'));
    // Back within the limit with c still online: everyone hears that c went.
    await expect(sut.departed(user('c'))).resolves.toEqual({ announce: true, toEveryone: true });
  });

  it('should reach only users that have a socket, while online covers the presence grace', async () => {
    const sut = new LocalPresence(0);
    await sut.arrived(user('a'));
    sut.reachable(user('a'), true);
    await expect(sut.reachableRef('a')).resolves.toEqual(user('a'));
    sut.reachable(user('a'), false);
    await expect(sut.reachableRef('a')).resolves.toBeUndefined();
    await expect(sut.onlineRef('a')).resolves.toEqual(user('a'));
    expect(await sut.stillOnline(['a', 'b'])).toEqual(new Set(['a']));
  });
});

import type { RoomRecord } from '../../store/message-store.js';
import { ReadStates } from '../read-states.js';
import { RoomActor, type MembershipObserver, type RoomActorDeps } from '../room.actor.js';

/** Users that are all online: a room can tell them what they joined. */
export const everyoneOnline: MembershipObserver = {
  joined: () => true,
  left: () => undefined,
  stillOnline: async (userIds) => new Set(userIds),
};

/**
 * A test double for unit specs: a room actor on a store that holds its row (a room made
 * now, empty, seq 0), with no heartbeat and every user online unless `deps` says otherwise.
 */
export async function startTestRoom(
  deps: Omit<RoomActorDeps, TestRoomDefaults> & Partial<RoomActorDeps>,
  record: Partial<RoomRecord> = {},
): Promise<RoomActor> {
  const full: RoomRecord = {
    id: 'lobby',
    name: 'Lobby',
    private: false,
    createdAt: new Date().toISOString(),
    ...record,
  };
  await deps.store.createRoom(full);
  return new RoomActor(
    full,
    { lastSeq: 0, invited: [], ready: Promise.resolve() },
    {
      membership: everyoneOnline,
      noticeIntervalMs: 0,
      readStates: new ReadStates(deps.store),
      editWindowMs: 900_000,
      readReceiptsMaxMembers: 50,
      historyMaxPerRoom: 10_000,
      ...deps,
    },
  );
}

/** What startTestRoom sets unless told otherwise. */
type TestRoomDefaults =
  | 'membership'
  | 'noticeIntervalMs'
  | 'readStates'
  | 'editWindowMs'
  | 'readReceiptsMaxMembers'
  | 'historyMaxPerRoom';

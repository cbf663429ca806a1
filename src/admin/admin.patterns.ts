/**
 * The admin commands on the Redis transport (REDIS_URL set): one message pattern each,
 * prefixed on the wire with REDIS_PREFIX. Every reply is `{ ok: true, ...data }` or
 * `{ ok: false, error: { code, message } }` with the contract's error codes.
 */
export const ADMIN_PATTERNS = {
  /** `{}` -> `{ ok, users, rooms }`, as GET /api/snapshot. */
  snapshot: 'snapshot',
  /** `{ id, name?, private?, ttlSeconds? }` -> `{ ok, room }`; ALREADY_EXISTS when taken. */
  createRoom: 'rooms.create',
  /** `{ id, name?, private?, ttlSeconds? }` -> `{ ok, created, room }`; safe to retry. */
  putRoom: 'rooms.put',
  /** `{ roomId }` -> `{ ok }`; members get room_leave. */
  deleteRoom: 'rooms.delete',
  /** `{ roomId, userId }` -> `{ ok }`: an online user joins; again is no error. */
  addMember: 'rooms.members.add',
  /** `{ roomId, userId }` -> `{ ok }`; not a member is no error. */
  removeMember: 'rooms.members.remove',
  /** `{ roomId, content }` -> `{ ok }`: a room_notice to every member. */
  notice: 'rooms.notice',
  /** `{ roomId, seq }` -> `{ ok }`: a room_delete by `system`; NOT_FOUND when no such message. */
  deleteMessage: 'rooms.messages.delete',
  /** `{ userId }` -> `{ ok }`: every socket of the user closed; USER_OFFLINE when offline. */
  disconnectUser: 'users.disconnect',
} as const;

export type AdminReply<T extends object = object> =
  ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };

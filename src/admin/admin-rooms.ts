import type { RoomSettings } from '../rooms/room.actor.js';

/** A room as the admin API makes it: no owner; a TTL closes it once empty that long. */
export interface AdminRoomInput {
  id: string;
  name?: string;
  private?: boolean;
  ttlSeconds?: number;
}

/** A room as the admin API shows it; `ttlSeconds` only when it has one. */
export interface AdminRoomView {
  id: string;
  name: string;
  private: boolean;
  ttlSeconds?: number;
}

export function adminView(settings: RoomSettings): AdminRoomView {
  const view: AdminRoomView = { id: settings.id, name: settings.name, private: settings.private };
  if (settings.ttlSeconds !== undefined) view.ttlSeconds = settings.ttlSeconds;
  return view;
}

/**
 * How an existing room differs from what a PUT asks for (name defaulting to the id, `private`
 * false, no TTL, no owner); empty when it is exactly that room.
 */
export function settingsDifferences(have: RoomSettings, input: AdminRoomInput): string[] {
  const differences: string[] = [];
  const name = input.name ?? input.id;
  if (have.name !== name) differences.push(`name is "${have.name}", not "${name}"`);
  if (have.private !== (input.private ?? false)) {
    differences.push(`private is ${String(have.private)}, not ${String(!have.private)}`);
  }
  if (have.ttlSeconds !== input.ttlSeconds) {
    differences.push(
      `ttlSeconds is ${have.ttlSeconds ?? 'none'}, not ${input.ttlSeconds ?? 'none'}`,
    );
  }
  if (have.owner !== undefined) differences.push('it was created by a user, who owns it');
  return differences;
}

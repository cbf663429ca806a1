/**
 * Who may not speak in one room, and until when (ms since the epoch). Owned by the room's
 * actor and kept in its memory only: a restart or a failover ends every mute.
 */
export class RoomMutes {
  readonly #until = new Map<string, number>();

  /** Mutes `userId` for `seconds` from `now`; answers when the mute ends. */
  mute(userId: string, seconds: number, now = Date.now()): number {
    // Ended ones go first, so the map stays as small as the room's live mutes.
    for (const [muted, until] of this.#until) if (until <= now) this.#until.delete(muted);
    const until = now + seconds * 1000;
    this.#until.set(userId, until);
    return until;
  }

  /** Lifts a mute; false when there was none. */
  lift(userId: string): boolean {
    return this.#until.delete(userId);
  }

  /** When the user's mute ends, if it is muted at `now`. */
  mutedUntil(userId: string, now = Date.now()): number | undefined {
    const until = this.#until.get(userId);
    if (until === undefined) return undefined;
    if (until > now) return until;
    this.#until.delete(userId);
    return undefined;
  }
}

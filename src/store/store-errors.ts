/** The store cannot be opened: start-up stops with this message instead of a stack. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/**
 * A write of a room refused because another instance owns the room now (its fencing epoch
 * moved on): the writer must drop the room, never retry.
 */
export class StaleOwnerError extends Error {
  override readonly name = 'StaleOwnerError';
  constructor(roomId: string, epoch: number) {
    super(`room ${roomId} has a newer owner than epoch ${epoch}`);
  }
}

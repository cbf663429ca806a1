/** The store cannot be opened: start-up stops with this message instead of a stack. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

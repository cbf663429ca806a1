import type { MessageState } from '../store/message-store.js';

interface Entry {
  state: MessageState;
  /** Events changing this message that the store has not answered for yet. */
  unsettled: number;
}

/** How many messages' states a room keeps by default. */
export const MESSAGE_STATES_KEPT = 256;

/**
 * The states of the room_chat events a room acted on lately (edits, deletions, reactions), so
 * that a burst of reactions on one message is decided without reading the store each time.
 * Owned by one RoomActor and used only from its jobs. The room changes a state as it numbers
 * the event that changes it; an entry with such an event still unsettled is never dropped,
 * because the store would not show that change yet.
 */
export class MessageStates {
  readonly #entries = new Map<number, Entry>();

  constructor(private readonly capacity = MESSAGE_STATES_KEPT) {}

  /** The state of the message at `seq`, when the room has it. */
  get(seq: number): MessageState | undefined {
    const entry = this.#entries.get(seq);
    if (entry === undefined) return undefined;
    // Most recently used last: the oldest are dropped first.
    this.#entries.delete(seq);
    this.#entries.set(seq, entry);
    return entry.state;
  }

  /** Keeps a state read from the store. */
  keep(seq: number, state: MessageState): void {
    this.#entries.set(seq, { state, unsettled: 0 });
    this.#trim();
  }

  /**
   * An event changing the message at `seq` went to the store: its entry stays until the
   * returned function is called (once the store answered).
   */
  hold(seq: number): () => void {
    const entry = this.#entries.get(seq);
    if (entry === undefined) return () => undefined;
    entry.unsettled++;
    return () => {
      entry.unsettled--;
      this.#trim();
    };
  }

  /** Forgets a state that may be wrong (its event was not stored): the store is read again. */
  forget(seq: number): void {
    this.#entries.delete(seq);
  }

  /** Forgets the states of messages at or below `seq` (retention dropped them). */
  forgetUpTo(seq: number): void {
    for (const key of this.#entries.keys()) if (key <= seq) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #trim(): void {
    if (this.#entries.size <= this.capacity) return;
    for (const [seq, entry] of this.#entries) {
      if (this.#entries.size <= this.capacity) return;
      if (entry.unsettled === 0) this.#entries.delete(seq);
    }
  }
}

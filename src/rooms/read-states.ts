import type { MessageStore, ReadMark, ReadState } from '../store/message-store.js';

interface Batch {
  marks: Map<string, ReadMark>;
  written: Promise<void>;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Users' read marks in rooms (room:read, the `lastRead` and `unread` of room:list and
 * room:join). Clients mark read on every scroll, so marks are group-committed: while one
 * write is in flight the next marks gather, a user's marks in one room collapse into the
 * highest, and they go to the store as one write once the previous one is answered.
 */
export class ReadStates {
  /** Marks waiting for the next write. */
  #next: Batch | undefined;
  #writing = false;

  constructor(private readonly store: MessageStore) {}

  /** Stores `mark` (the store keeps the highest): settles once it is durable. */
  save(mark: ReadMark): Promise<void> {
    const batch = (this.#next ??= newBatch());
    const key = `${mark.roomId}\u0000${mark.userId}`;
    const known = batch.marks.get(key);
    if (known === undefined || known.seq < mark.seq) batch.marks.set(key, mark);
    if (!this.#writing) this.#writeNext();
    return batch.written;
  }

  /** The user's stored read mark in one room. */
  markOf(roomId: string, userId: string): Promise<number> {
    return this.store.readMark(roomId, userId);
  }

  /** The user's read state in each of these rooms, in one read. */
  of(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    return roomIds.length === 0
      ? Promise.resolve(new Map())
      : this.store.readStates(userId, roomIds);
  }

  #writeNext(): void {
    const batch = this.#next;
    if (batch === undefined) {
      this.#writing = false;
      return;
    }
    this.#next = undefined;
    this.#writing = true;
    this.store.saveReadMarks([...batch.marks.values()]).then(
      () => batch.resolve(),
      (error: unknown) => batch.reject(error),
    );
    void batch.written.catch(() => undefined).then(() => this.#writeNext());
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (reason: unknown) => void;
  const written = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { marks: new Map(), written, resolve, reject };
}

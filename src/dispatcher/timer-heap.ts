import type { ActorCell } from './cell.js';
import type { Job } from './mailbox.js';

/** A pending delayed job; `cancelled` lets the heap drop it lazily. */
export interface TimerEntry {
  readonly due: number;
  readonly order: number;
  readonly cell: ActorCell;
  readonly job: Job;
  cancelled: boolean;
}

/** Min-heap of delayed jobs by due time, ties broken by submission order. */
export class TimerHeap {
  readonly #heap: TimerEntry[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): TimerEntry | undefined {
    return this.#heap[0];
  }

  push(entry: TimerEntry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  pop(): TimerEntry | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop() as TimerEntry;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }

  clear(): TimerEntry[] {
    return this.#heap.splice(0);
  }
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.order < b.order);
}

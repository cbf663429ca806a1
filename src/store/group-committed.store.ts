import type { ChatMessage } from '../contract/events.js';
import { GroupCommitter, type BatchOutcome, type GroupCommitStats } from './group-commit.js';
import type {
  ReadMark,
  RoomFence,
  RoomRecord,
  SendRecord,
  WriteBatchObserver,
} from './message-store.js';
import { eventOp, memoOp, sendRow, type WriteOp } from './write-ops.js';

/**
 * The write half of a SQL store: every write becomes a WriteOp, group-committed by the
 * subclass's `commitBatch`. Reads stay with the subclass.
 */
export abstract class GroupCommittedStore {
  protected readonly writes: GroupCommitter<WriteOp>;

  protected constructor(maxBatch: number) {
    this.writes = new GroupCommitter((ops) => this.commitBatch(ops), maxBatch);
  }

  /** Commits one batch; a failed batch must still say which ops failed. */
  protected abstract commitBatch(ops: readonly WriteOp[]): Promise<BatchOutcome>;

  get writeStats(): GroupCommitStats {
    return this.writes.stats;
  }

  flush(): Promise<void> {
    return this.writes.flush();
  }

  observeWrites(observer: WriteBatchObserver): void {
    this.writes.observer = observer;
  }

  createRoom(room: RoomRecord): Promise<void> {
    return this.writes.submit({ kind: 'room', room });
  }

  deleteRoom(roomId: string, fence?: RoomFence): Promise<void> {
    return this.writes.submit({ kind: 'deleteRoom', roomId, epoch: fence?.epoch });
  }

  addInvite(roomId: string, userId: string, fence?: RoomFence): Promise<void> {
    return this.writes.submit({ kind: 'invite', roomId, userId, epoch: fence?.epoch });
  }

  removeInvite(roomId: string, userId: string, fence?: RoomFence): Promise<void> {
    return this.writes.submit({ kind: 'uninvite', roomId, userId, epoch: fence?.epoch });
  }

  appendRoomEvent(event: ChatMessage, send?: SendRecord, fence?: RoomFence): Promise<void> {
    return this.writes.submit(eventOp(event, send, fence));
  }

  recordSend(send: SendRecord): Promise<void> {
    return this.writes.submit({ kind: 'send', send: sendRow(send)! });
  }

  addMemo(memo: ChatMessage, send?: SendRecord): Promise<void> {
    return this.writes.submit(memoOp(memo, send));
  }

  deleteMemos(ids: readonly string[]): Promise<void> {
    return this.writes.submit({ kind: 'deleteMemos', ids: [...ids] });
  }

  saveReadMarks(marks: readonly ReadMark[]): Promise<void> {
    return this.writes.submit({ kind: 'reads', marks: [...marks] });
  }

  setBlock(userId: string, blockedId: string, on: boolean): Promise<void> {
    return this.writes.submit({ kind: 'block', userId, blockedId, on });
  }

  /** Readiness: a probe write, committed in turn with the others (a full disk fails it). */
  protected probeWrite(): Promise<void> {
    return this.writes.submit({ kind: 'probe', at: Date.now() });
  }
}

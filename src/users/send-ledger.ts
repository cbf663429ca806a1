import type { ChatMessage } from '../contract/events.js';
import { BusyError } from '../contract/errors.js';
import type { MessageStore, SendRecord } from '../store/message-store.js';

/** What a send answers (`room:message`, `private:message`, `memo:send`), replayed on a retry. */
export interface SendResult {
  message: ChatMessage;
  /** memo:send only: whether the recipient had a socket when it was sent. */
  delivered?: boolean;
}

/** Clients retry with the same clientMsgId within seconds; this many are kept in memory. */
const RECENT_SENDS = 256;
/** A retry waiting for its original on another instance looks for the stored answer this often. */
const STORED_POLL_MS = 50;
/** ... and gives up (BUSY) after this long. */
const STORED_WAIT_MS = 10_000;

/**
 * Cluster mode: a clientMsgId claimed while its send is in flight, across instances, so that a
 * retry racing its original on another instance waits for the original's answer instead of
 * sending again.
 */
export interface SendClaims {
  /** True for the first claim of the id; false while another holds it. */
  claim(userId: string, clientMsgId: string): Promise<boolean>;
  release(userId: string, clientMsgId: string): Promise<void>;
}

/**
 * A user's `clientMsgId`s: the first answer to each, replayed for every retry. The answer is
 * stored with the message it answers (SendRecord, in the same transaction), so a retry after
 * a restart replays it from the store; a retry racing its original gets the original's promise.
 * Owned by the user's actor and called from its jobs only.
 */
export class SendLedger {
  /** Made on the first send with a clientMsgId: most connections never make one. */
  #recent: Map<string, Promise<SendResult>> | undefined;

  constructor(
    private readonly userId: string,
    private readonly store: MessageStore,
    private readonly claims?: SendClaims,
  ) {}

  /**
   * The answer for `clientMsgId`: the one in flight or recent, the stored one, or else the
   * one `send` gives. A refused send used nothing up: a retry runs afresh.
   */
  once(clientMsgId: string, send: () => Promise<SendResult>): Promise<SendResult> {
    const recent = (this.#recent ??= new Map());
    const earlier = recent.get(clientMsgId);
    if (earlier !== undefined) return earlier;
    const outcome = this.store
      .findSend(this.userId, clientMsgId)
      .then((stored) =>
        stored === undefined ? this.#sendOnce(clientMsgId, send) : replay(stored),
      );
    recent.set(clientMsgId, outcome);
    if (recent.size > RECENT_SENDS) recent.delete(recent.keys().next().value as string);
    outcome.catch(() => {
      if (recent.get(clientMsgId) === outcome) recent.delete(clientMsgId);
    });
    return outcome;
  }

  /** Cluster mode: only the holder of the id's claim sends; a retry elsewhere waits for it. */
  async #sendOnce(clientMsgId: string, send: () => Promise<SendResult>): Promise<SendResult> {
    const claims = this.claims;
    if (claims === undefined) return send();
    if (!(await claims.claim(this.userId, clientMsgId))) {
      return waitForStored(this.store, this.userId, clientMsgId);
    }
    try {
      return await send();
    } catch (error) {
      // Refused: nothing was used up, a retry may send it.
      await claims.release(this.userId, clientMsgId).catch(() => undefined);
      throw error;
    }
  }
}

/** A retry whose original is in flight on another instance: its answer, once it is stored. */
async function waitForStored(
  store: MessageStore,
  userId: string,
  clientMsgId: string,
): Promise<SendResult> {
  const deadline = Date.now() + STORED_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, STORED_POLL_MS));
    const stored = await store.findSend(userId, clientMsgId);
    if (stored !== undefined) return replay(stored);
  }
  throw new BusyError('the first send of this clientMsgId is still in flight: retry');
}

function replay(stored: SendRecord): SendResult {
  return stored.delivered === undefined
    ? { message: stored.message }
    : { message: stored.message, delivered: stored.delivered };
}

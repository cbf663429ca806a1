import type { ChatMessage } from '../contract/events.js';
import type { MessageStore, SendRecord } from '../store/message-store.js';

/** What a send answers (`room:message`, `private:message`, `memo:send`), replayed on a retry. */
export interface SendResult {
  message: ChatMessage;
  /** memo:send only: whether the recipient had a socket when it was sent. */
  delivered?: boolean;
}

/** Clients retry with the same clientMsgId within seconds; this many are kept in memory. */
const RECENT_SENDS = 256;

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
      .then((stored) => (stored === undefined ? send() : replay(stored)));
    recent.set(clientMsgId, outcome);
    if (recent.size > RECENT_SENDS) recent.delete(recent.keys().next().value as string);
    outcome.catch(() => {
      if (recent.get(clientMsgId) === outcome) recent.delete(clientMsgId);
    });
    return outcome;
  }
}

function replay(stored: SendRecord): SendResult {
  return stored.delivered === undefined
    ? { message: stored.message }
    : { message: stored.message, delivered: stored.delivered };
}

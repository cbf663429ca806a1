import { DispatcherError, MailboxFullError, NotAcceptingError } from '../dispatcher/index.js';
import { ChatError } from './errors.js';
import type { ErrorBody } from './events.js';

/** Logs an error the contract has no code for (a bug): what it was and where. */
export type UnexpectedErrorLog = (summary: string, detail: string) => void;

/**
 * Any error as the contract's error body, the same everywhere (socket replies and chat:error,
 * the Redis admin transport, the HTTP admin API): a ChatError carries its code; a full mailbox
 * or a runtime that is shutting down is load (`BUSY`); anything else, a re-entrant ask
 * included, is a bug (`INTERNAL`, logged with its stack).
 */
export function toErrorBody(error: unknown, logUnexpected: UnexpectedErrorLog): ErrorBody {
  if (error instanceof ChatError) return { code: error.code, message: error.message };
  if (error instanceof MailboxFullError || error instanceof NotAcceptingError) {
    return { code: 'BUSY', message: 'the server is busy: retry shortly' };
  }
  const kind = error instanceof DispatcherError ? 'an actor runtime error' : 'an unexpected error';
  logUnexpected(kind, error instanceof Error ? (error.stack ?? error.message) : String(error));
  return { code: 'INTERNAL', message: 'internal error' };
}

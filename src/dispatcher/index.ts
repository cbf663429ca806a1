export { Actor, type ActorOptions } from './actor.js';
export type { MailboxOptions, OverflowPolicy } from './cell.js';
export type { Job, JobResult, StatefulJob } from './mailbox.js';
export {
  Dispatcher,
  DEFAULT_DISPATCHER_OPTIONS,
  type CloseResult,
  type DispatcherHooks,
  type DispatcherMetrics,
  type DispatcherOptions,
} from './dispatcher.js';
export type { TimerHandle } from './delayed-jobs.js';
export {
  DispatcherError,
  MailboxFullError,
  NotAcceptingError,
  ReentrantAskError,
} from './errors.js';

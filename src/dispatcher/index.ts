export { Actor, type ActorOptions } from './actor.js';
export type { Job, JobResult, MailboxOptions, OverflowPolicy, StatefulJob } from './cell.js';
export {
  Dispatcher,
  DEFAULT_DISPATCHER_OPTIONS,
  type CloseResult,
  type DispatcherHooks,
  type DispatcherMetrics,
  type DispatcherOptions,
  type TimerHandle,
} from './dispatcher.js';
export {
  DispatcherError,
  MailboxFullError,
  NotAcceptingError,
  ReentrantAskError,
} from './errors.js';

import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnModuleInit,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Dispatcher } from './dispatcher.js';

/**
 * The actor runtime as a Nest provider: loops start with the module and drain on shutdown.
 * Actors take it in their constructor.
 */
@Injectable()
export class DispatcherService
  extends Dispatcher
  implements OnModuleInit, BeforeApplicationShutdown
{
  readonly #logger: Logger;
  readonly #shutdownTimeoutMs: number;

  constructor(config: AppConfig) {
    const logger = new Logger(DispatcherService.name);
    super(
      { workers: config.dispatcherWorkers, defaultMailboxCapacity: config.mailboxCapacity },
      {
        onJobError: (error, actor) =>
          logger.error(`job of ${actor} failed: ${describe(error)}`, stackOf(error)),
        onJobDropped: (actor) => logger.debug(`mailbox of ${actor} is full: job dropped`),
        onLoopCrash: (slot, error, delayMs) =>
          logger.error(
            `worker loop ${slot} crashed, restarting in ${delayMs} ms: ${describe(error)}`,
          ),
        onLoopDown: (slot, error) =>
          logger.error(`worker loop ${slot} is down after too many restarts: ${describe(error)}`),
      },
    );
    this.#logger = logger;
    this.#shutdownTimeoutMs = config.shutdownTimeoutMs;
  }

  onModuleInit(): void {
    this.start();
    this.#logger.debug(`started ${this.options.workers} worker loops`);
  }

  /**
   * Before the socket server and the store close (onApplicationShutdown): the gate shuts and
   * the mailboxes drain while their writes can still commit.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const { drained, remaining } = await this.close(this.#shutdownTimeoutMs);
    if (drained) this.#logger.log('mailboxes drained, worker loops stopped');
    else this.#logger.warn(`shutdown timed out with ${remaining} jobs still queued`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function stackOf(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}

import {
  Inject,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { MESSAGE_STORE, type MessageStore } from './message-store.js';

/** clientMsgId idempotency lasts at least this long (the contract says 24 hours). */
export const SEND_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The configured store. Each is loaded only when chosen: a process on SQLite never loads the
 * PostgreSQL driver (memory at start).
 */
export async function createStore(config: AppConfig): Promise<MessageStore> {
  const retention = { historyMaxPerRoom: config.historyMaxPerRoom, sendTtlMs: SEND_TTL_MS };
  switch (config.store) {
    case 'memory': {
      const { MemoryStore } = await import('./memory.store.js');
      return new MemoryStore(retention);
    }
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite/sqlite.store.js');
      return new SqliteStore({
        ...retention,
        dataDir: config.dataDir,
        synchronous: config.sqliteSynchronous,
        faultInjection: config.faultInjection,
      });
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres/postgres.store.js');
      return new PostgresStore({
        ...retention,
        url: config.databaseUrl as string,
        schema: config.databaseSchema,
      });
    }
  }
}

@Module({
  providers: [{ provide: MESSAGE_STORE, useFactory: createStore, inject: [AppConfig] }],
  exports: [MESSAGE_STORE],
})
export class StoreModule implements OnModuleInit, OnApplicationShutdown {
  readonly #logger = new Logger('MessageStore');

  constructor(@Inject(MESSAGE_STORE) private readonly store: MessageStore) {}

  async onModuleInit(): Promise<void> {
    await this.store.init();
    this.#logger.debug(`store: ${this.store.kind} (${this.store.location})`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

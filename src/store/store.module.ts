import {
  Inject,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { MemoryStore } from './memory.store.js';
import { PostgresStore } from './postgres/postgres.store.js';
import { SqliteStore } from './sqlite/sqlite.store.js';
import { MESSAGE_STORE, type MessageStore } from './message-store.js';

/** clientMsgId idempotency lasts at least this long (the contract says 24 hours). */
export const SEND_TTL_MS = 24 * 60 * 60 * 1000;

export function createStore(config: AppConfig): MessageStore {
  const retention = { historyMaxPerRoom: config.historyMaxPerRoom, sendTtlMs: SEND_TTL_MS };
  switch (config.store) {
    case 'memory':
      return new MemoryStore(retention);
    case 'sqlite':
      return new SqliteStore({
        ...retention,
        dataDir: config.dataDir,
        synchronous: config.sqliteSynchronous,
        faultInjection: config.faultInjection,
      });
    case 'postgres':
      return new PostgresStore({
        ...retention,
        url: config.databaseUrl as string,
        schema: config.databaseSchema,
      });
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

import 'reflect-metadata';
import { type INestApplication, Logger } from '@nestjs/common';
import type { Server as HttpServer } from 'node:http';
import { createApp } from './app.factory.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/env.js';
import { createLogger, wantsPrettyLogs } from './logging/logger.js';
import { RedisConnectError } from './redis/redis.connection.js';
import { MESSAGE_STORE, type MessageStore } from './store/message-store.js';
import { StoreOpenError } from './store/store-errors.js';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  // Until the configuration is read: info, in the format NODE_ENV asks for.
  Logger.overrideLogger(
    createLogger({ level: 'info', pretty: wantsPrettyLogs(process.env.NODE_ENV) }),
  );
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) logger.error(`invalid configuration: ${problem}`);
    process.exit(1);
  }
  // JSON lines (pino), or pretty ones for a person at a terminal outside production.
  const appLogger = createLogger({
    level: config.logLevel,
    pretty: wantsPrettyLogs(config.nodeEnv),
  });
  const app = await createApp(config, { logger: appLogger });
  // Our own signal handling rather than enableShutdownHooks(), which re-raises the signal:
  // a clean shutdown exits with 0, a stuck one is cut off after SHUTDOWN_TIMEOUT_MS.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    const deadline = setTimeout(() => {
      logger.error(`shutdown took longer than ${config.shutdownTimeoutMs + 5000} ms: exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000);
    deadline.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await app.init();
  try {
    await listen(app, config.port, config.host);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
    // Nothing was served or written yet: one clear line, and out.
    logger.error(
      `port ${config.port} on ${config.host} is already in use: stop what listens there, ` +
        'or set PORT to another one',
    );
    process.exit(1);
  }
  await app.startAllMicroservices(); // the admin commands over Redis, when REDIS_URL is set
  announceStart(app, config, logger);
}

/** The HTTP server (with socket.io on it) listens; rejects with the reason it cannot. */
function listen(app: INestApplication, port: number, host: string): Promise<void> {
  const server = app.getHttpServer() as HttpServer;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** One line for the start (URL, store, auth), and one warning for each thing left open. */
function announceStart(app: INestApplication, config: AppConfig, logger: Logger): void {
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  const { port } = app.getHttpServer().address() as { port: number };
  const store = app.get<MessageStore>(MESSAGE_STORE);
  const mode = config.clusterMode ? ', cluster: one chat with the instances on it' : '';
  logger.log(
    `chat service on http://${host}:${port} (store: ${store.kind} (${store.location})${mode}, ` +
      `auth: ${config.authMode})`,
  );
  const who = isLoopback(config.host) ? 'anyone on this machine' : 'anyone who reaches it';
  if (config.authMode === 'open') {
    logger.warn(
      `open mode: ${who} may connect as any user id (set AUTH_JWT_SECRET to require tokens)`,
    );
  }
  if (config.adminApiKey === undefined && !config.production) {
    logger.warn(
      `admin API open: ${who} may close rooms and disconnect users through /api ` +
        '(set ADMIN_API_KEY)',
    );
  }
  if (config.redisUrl !== undefined && !config.clusterMode) {
    logger.warn(
      `REDIS_URL with the ${config.store} store: instances share broadcasts and the admin ` +
        'transport, but each keeps its own rooms, users and history: they are NOT one chat ' +
        '(set DATABASE_URL for that)',
    );
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

bootstrap().catch((error: unknown) => {
  // A store that cannot open is an operator's problem: say what and where, not a stack.
  const message =
    error instanceof StoreOpenError || error instanceof RedisConnectError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  new Logger('Bootstrap').error(message);
  process.exit(1);
});

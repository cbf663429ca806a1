import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/env.js';
import { createLogger, wantsPrettyLogs } from './logging/logger.js';
import { RedisConnectError } from './redis/redis.connection.js';
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
  await app.listen(config.port, config.host);
  await app.startAllMicroservices(); // the admin commands over Redis, when REDIS_URL is set
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  const { port } = app.getHttpServer().address() as { port: number };
  logger.log(`chat service on http://${host}:${port} (auth: ${config.authMode})`);
  if (config.clusterMode) {
    logger.log('cluster mode: one chat with every instance on this PostgreSQL and Redis');
  } else if (config.redisUrl !== undefined) {
    logger.warn(
      `REDIS_URL with the ${config.store} store: instances share broadcasts and the admin ` +
        'transport, but each keeps its own rooms, users and history: they are NOT one chat ' +
        '(set DATABASE_URL for that)',
    );
  }
  if (config.authMode === 'open') {
    logger.warn(
      'open mode: any client may connect as any user id (set AUTH_JWT_SECRET to require tokens)',
    );
  }
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

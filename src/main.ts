import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/env.js';
import { StoreOpenError } from './store/store-errors.js';
import type { LogLevel } from '@nestjs/common';
import type { LogLevelName } from './config/app-config.js';

/** LOG_LEVEL and everything more severe, in Nest's names. */
function nestLogLevels(level: LogLevelName): LogLevel[] {
  const order: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  const upTo = order.indexOf(level === 'info' ? 'log' : level);
  return order.slice(0, upTo + 1);
}

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error(error.message);
    process.exit(1);
  }
  const app = await createApp(config, { logger: nestLogLevels(config.logLevel) });
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
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  const { port } = app.getHttpServer().address() as { port: number };
  logger.log(`chat service on http://${host}:${port} (auth: ${config.authMode})`);
  if (config.authMode === 'open') {
    logger.warn(
      'open mode: any client may connect as any user id (set AUTH_JWT_SECRET to require tokens)',
    );
  }
}

bootstrap().catch((error: unknown) => {
  // A store that cannot open is an operator's problem: say what and where, not a stack.
  const message =
    error instanceof StoreOpenError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  new Logger('Bootstrap').error(message);
  process.exit(1);
});

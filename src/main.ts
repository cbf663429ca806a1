import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/env.js';
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
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  logger.log(`chat service on http://${host}:${config.port} (auth: ${config.authMode})`);
  if (config.authMode === 'open') {
    logger.warn(
      'open mode: any client may connect as any user id (set AUTH_JWT_SECRET to require tokens)',
    );
  }
}

bootstrap().catch((error: unknown) => {
  new Logger('Bootstrap').error(
    error instanceof Error ? (error.stack ?? error.message) : String(error),
  );
  process.exit(1);
});

import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveOpenApi } from './admin/admin.docs.js';
import { AppModule } from './app.module.js';
import { ChatIoAdapter } from './chat/chat-io.adapter.js';
import type { AppConfig } from './config/app-config.js';
import { RedisConnection } from './redis/redis.connection.js';

export interface CreateAppOptions {
  logger?: LoggerService | LogLevel[] | false;
}

/** Builds the application (not yet listening): shared by main.ts and the e2e tests. */
export async function createApp(
  config: AppConfig,
  options: CreateAppOptions = {},
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: options.logger,
    bufferLogs: false,
    bodyParser: false,
  });
  // No `X-Powered-By: Express` on any response: it only tells attackers what to try.
  app.disable('x-powered-by');
  // JSON bodies only (the admin API); a body the parser refuses answers like any API error.
  app.useBodyParser('json', { limit: ADMIN_BODY_LIMIT, inflate: false });
  app.use(refusedBody);
  // REDIS_URL: broadcasts reach the other instances, and the admin commands are also served
  // over Redis (a hybrid app: main.ts starts the microservice after listen).
  const redis = app.get(RedisConnection);
  await redis.connect().catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    throw error;
  });
  if (redis.enabled) {
    // The Redis adapter and transport load only when REDIS_URL is set.
    const [{ RedisIoAdapter }, { redisTransport }] = await Promise.all([
      import('./chat/redis-io.adapter.js'),
      import('./redis/redis.transport.js'),
    ]);
    app.useWebSocketAdapter(new RedisIoAdapter(app, config, redis));
    app.connectMicroservice(redisTransport(redis, config.redisPrefix, config.clusterMode), {
      inheritAppConfig: true,
    });
  } else {
    app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  }
  // The OpenAPI document of the admin API at /docs, open like /health (loaded when asked for).
  serveOpenApi(app);
  // The web client: plain static files at /, beside /api, /health and /socket.io.
  app.useStaticAssets(join(projectRoot(), 'public'));
  return app;
}

/** Admin request bodies are a room, a user id or a notice: far below this. */
const ADMIN_BODY_LIMIT = '100kb';

/**
 * Express error middleware right behind the body parser: a body that is too large, not
 * JSON, or in an unknown charset or encoding is `{ statusCode, error, message }` (4xx).
 */
function refusedBody(
  error: unknown,
  _request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
): void {
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return next(error);
  response.statusCode = status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  const message = error instanceof Error ? error.message : 'bad request body';
  response.end(JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message }));
}

/** The folder holding package.json, found from src/ (jest) as from dist/src/ (built). */
function projectRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

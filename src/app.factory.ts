import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';
import { ChatIoAdapter } from './chat/chat-io.adapter.js';
import type { AppConfig } from './config/app-config.js';

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
  });
  app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  // The web client: plain static files at /, beside /api, /health and /socket.io.
  app.useStaticAssets(join(projectRoot(), 'public'));
  return app;
}

/** The folder holding package.json, found from src/ (jest) as from dist/src/ (built). */
function projectRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

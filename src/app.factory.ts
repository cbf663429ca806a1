import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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
  const app = await NestFactory.create(AppModule.forRoot(config), {
    logger: options.logger,
    bufferLogs: false,
  });
  app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  return app;
}

import { Controller, Get } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';

/** What a client needs to know before it connects. */
export interface ClientInfo {
  /** `jwt`: connect with `{ token }`; `open`: with `{ userId, name }`. */
  auth: 'open' | 'jwt';
  /** Longest message content, in code points (TOO_LARGE past it). */
  maxMessageLength: number;
  /** Largest socket.io packet, in bytes: a larger one closes the connection. */
  maxPacketBytes: number;
}

/** GET /info: open like /health, so a page can tell its user how to sign in. */
@Controller()
export class ClientInfoController {
  constructor(private readonly config: AppConfig) {}

  @Get('info')
  info(): ClientInfo {
    return {
      auth: this.config.authMode,
      maxMessageLength: this.config.maxMessageLength,
      maxPacketBytes: this.config.maxHttpBufferSize,
    };
  }
}

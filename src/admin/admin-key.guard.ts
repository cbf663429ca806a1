import { timingSafeEqual, createHash } from 'node:crypto';
import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config.js';

/**
 * `/api/*` needs `Authorization: Bearer <ADMIN_API_KEY>` when a key is set; with no key it is
 * open outside production and closed in production.
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  readonly #keyDigest: Buffer | undefined;

  constructor(private readonly config: AppConfig) {
    this.#keyDigest = config.adminApiKey === undefined ? undefined : digest(config.adminApiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.#keyDigest === undefined) {
      if (this.config.production)
        throw new UnauthorizedException('ADMIN_API_KEY is not configured');
      return true;
    }
    const header = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    // Digests have one length, so the comparison takes the same time whatever was sent.
    if (match === null || !timingSafeEqual(digest(match[1]), this.#keyDigest)) {
      throw new UnauthorizedException('a valid admin API key is required');
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

import { Injectable } from '@nestjs/common';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { UserRef } from '../contract/events.js';
import { AppConfig } from '../config/app-config.js';
import { AuthError } from '../contract/errors.js';
import { isUserId, normalizeName, USER_NAME_MAX } from '../contract/text-rules.js';

/**
 * Turns a socket.io handshake `auth` object into the identity of every action on that
 * socket: a JWT (HS256) when a secret is configured, otherwise open mode.
 */
@Injectable()
export class AuthService {
  readonly #secret: Uint8Array | undefined;

  constructor(private readonly config: AppConfig) {
    this.#secret =
      config.jwtSecret === undefined ? undefined : new TextEncoder().encode(config.jwtSecret);
  }

  async authenticate(auth: unknown): Promise<UserRef> {
    const fields =
      typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>) : {};
    if (this.#secret === undefined) {
      return identity(fields.userId, fields.name ?? fields.userId);
    }
    // With a secret, only the token counts: userId and name beside it are ignored.
    const token = fields.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      throw new AuthError('UNAUTHORIZED', 'a token is required');
    }
    let claims: Record<string, unknown>;
    try {
      const verified = await jwtVerify(token, this.#secret, {
        algorithms: ['HS256'],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
      });
      claims = verified.payload;
    } catch (error) {
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'malformed token';
      throw new AuthError('UNAUTHORIZED', reason);
    }
    if (typeof claims.sub !== 'string') {
      throw new AuthError('UNAUTHORIZED', 'token has no string sub claim');
    }
    return identity(claims.sub, claims.name ?? claims.sub);
  }
}

function identity(userId: unknown, name: unknown): UserRef {
  if (!isUserId(userId)) {
    throw new AuthError('INVALID_AUTH', 'user id must be 1-64 of [A-Za-z0-9_.-] and not reserved');
  }
  const display = normalizeName(name, USER_NAME_MAX);
  if (display === undefined) {
    throw new AuthError('INVALID_AUTH', `name must be 1-${USER_NAME_MAX} characters of text`);
  }
  return { id: userId, name: display };
}

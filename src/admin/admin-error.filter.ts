import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { toErrorBody } from '../contract/error-body.js';
import { InvalidRequestError } from '../contract/errors.js';
import type { ErrorCode } from '../contract/events.js';

/** The HTTP status of each contract code the admin API can answer with. */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_PAYLOAD: 400,
  TOO_LARGE: 400,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  USER_OFFLINE: 404,
  FORBIDDEN: 409,
  NOT_MEMBER: 409,
  ALREADY_EXISTS: 409,
  BUSY: 503,
  INTERNAL: 500,
};

/**
 * The admin API's answers to errors, `{ statusCode, error, message }`: the contract's error
 * body (toErrorBody, as on the socket and over Redis) with the HTTP status of its code; a bad
 * request lists every problem.
 */
@Catch()
export class AdminErrorFilter implements ExceptionFilter {
  readonly #logger = new Logger(AdminErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<ServerResponse>();
    const [status, body] = this.#answer(error);
    response.statusCode = status;
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(JSON.stringify(body));
  }

  #answer(error: unknown): [number, object] {
    // Nest's own (an unknown route, say): as Nest would answer it.
    if (error instanceof HttpException) {
      const body = error.getResponse();
      return [error.getStatus(), typeof body === 'object' ? body : { message: body }];
    }
    const { code, message } = toErrorBody(error, (kind, detail) =>
      this.#logger.error(`admin request failed with ${kind}`, detail),
    );
    const statusCode = STATUS[code];
    const messages = error instanceof InvalidRequestError ? [...error.problems] : message;
    return [
      statusCode,
      {
        statusCode,
        error: STATUS_CODES[statusCode],
        message: code === 'INVALID_PAYLOAD' && !Array.isArray(messages) ? [messages] : messages,
      },
    ];
  }
}

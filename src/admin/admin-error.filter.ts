import {
  type ArgumentsHost,
  BadRequestException,
  Catch,
  ConflictException,
  type ExceptionFilter,
  HttpException,
  InternalServerErrorException,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ChatError } from '../common/errors.js';
import { DispatcherError } from '../dispatcher/index.js';
import { InvalidRequestError } from './admin.schemas.js';

/** Maps domain errors to the admin API's HTTP answers, `{ statusCode, error, message }`. */
@Catch()
export class AdminErrorFilter implements ExceptionFilter {
  readonly #logger = new Logger(AdminErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const http = this.#toHttp(error);
    const response = host.switchToHttp().getResponse<ServerResponse>();
    const body = http.getResponse();
    response.statusCode = http.getStatus();
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(JSON.stringify(body));
  }

  #toHttp(error: unknown): HttpException {
    if (error instanceof HttpException) return error;
    if (error instanceof InvalidRequestError) return new BadRequestException([...error.problems]);
    if (error instanceof ChatError) {
      switch (error.code) {
        case 'NOT_FOUND':
        case 'USER_OFFLINE':
          return new NotFoundException(error.message);
        case 'ALREADY_EXISTS':
        case 'FORBIDDEN':
          return new ConflictException(error.message);
        case 'INVALID_PAYLOAD':
          return new BadRequestException([error.message]);
        case 'BUSY':
          return new ServiceUnavailableException(error.message);
        default:
          break;
      }
    }
    if (error instanceof DispatcherError)
      return new ServiceUnavailableException('the server is busy');
    this.#logger.error(
      'admin request failed',
      error instanceof Error ? error.stack : String(error),
    );
    return new InternalServerErrorException('internal error');
  }
}

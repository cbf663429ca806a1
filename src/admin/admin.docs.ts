import { type INestApplication, Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createRequire } from 'node:module';
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { dirname } from 'node:path';
import { AdminModule } from './admin.module.js';
import { ADMIN_SCHEMAS, ADMIN_SECURITY } from './admin.openapi.js';
import { applyAnnotations } from './openapi-annotations.js';

/** Where the OpenAPI document is served: the UI at /docs, the JSON at /docs-json. */
export const OPENAPI_PATH = 'docs';

type HttpRequest = IncomingMessage & { path: string };
type Handler = (request: HttpRequest, response: ServerResponse) => unknown;
type Next = (error?: unknown) => void;

/**
 * Serves the OpenAPI document of the admin API at /docs (UI), /docs-json and /docs-yaml,
 * without a key. @nestjs/swagger loads on the first request for one of them: a chat server
 * that nobody browses the docs of never pays its memory and start time. The UI's own files
 * (swagger-ui-dist, the version @nestjs/swagger ships) are plain static files from the start.
 */
export function serveOpenApi(app: NestExpressApplication): void {
  const logger = new Logger('OpenApi');
  let handlers: Promise<Map<string, Handler>> | undefined;
  app.use((request: HttpRequest, response: ServerResponse, next: Next) => {
    if (!request.path.startsWith(`/${OPENAPI_PATH}`)) return next();
    if (request.method !== 'GET' && request.method !== 'HEAD') return next();
    handlers ??= swaggerHandlers(app);
    handlers
      .then(async (routes) => {
        const handler = routes.get(request.path);
        if (handler === undefined) return next();
        await handler(request, response);
      })
      .catch((error: unknown) => {
        if (status(error) === 500) {
          logger.error(`API documentation failed: ${(error as Error).stack ?? String(error)}`);
          handlers = undefined; // the next request tries again
        }
        refuse(response, error);
      });
  });
  app.useStaticAssets(swaggerUiFiles(), { prefix: `/${OPENAPI_PATH}` });
}

/** The swagger UI's handlers for each path, as SwaggerModule.setup registers them. */
async function swaggerHandlers(app: INestApplication): Promise<Map<string, Handler>> {
  const swagger = await import('@nestjs/swagger');
  applyAnnotations(swagger);
  const config = new swagger.DocumentBuilder()
    .setTitle('actor-chat admin API')
    .setDescription(
      'The HTTP admin API of the chat service, for other backend services (a game server ' +
        'placing players in rooms). Every /api route needs `Authorization: Bearer ' +
        '<ADMIN_API_KEY>` when a key is configured; with none it is open outside production ' +
        'and closed (401) in production. Errors are JSON `{ statusCode, error, message }`; a bad ' +
        'body or path id is a 400, checked before the room or user is looked up. The same ' +
        'commands are served over Redis when REDIS_URL is set (see the README). The socket.io ' +
        'side is docs/PROTOCOL.md; GET /health answers liveness.',
    )
    .setVersion('1')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'The ADMIN_API_KEY of the service' },
      ADMIN_SECURITY,
    )
    .build();
  const document = swagger.SwaggerModule.createDocument(app, config, { include: [AdminModule] });
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...ADMIN_SCHEMAS },
  };
  // setup() registers its routes on the app's HTTP adapter, which takes no routes once the
  // app listens: it gets one that collects them instead. Its static files are served above.
  const routes = new Map<string, Handler>();
  const collector = {
    getHttpAdapter: () => ({
      get: (path: string, handler: Handler) => routes.set(path, handler),
      getType: () => 'express',
      getRequestUrl: (request: IncomingMessage) => request.url ?? '',
    }),
    useStaticAssets: () => undefined,
  };
  swagger.SwaggerModule.setup(OPENAPI_PATH, collector as unknown as INestApplication, document, {
    customSiteTitle: 'actor-chat admin API',
  });
  return routes;
}

/** swagger-ui-dist's folder, found from @nestjs/swagger without loading either. */
function swaggerUiFiles(): string {
  const fromSwagger = createRequire(createRequire(import.meta.url).resolve('@nestjs/swagger'));
  return dirname(fromSwagger.resolve('swagger-ui-dist/package.json'));
}

/** An HttpException's status (swagger's 404 for /docs/LICENSE), otherwise 500. */
function status(error: unknown): number {
  const getStatus = (error as { getStatus?: unknown } | undefined)?.getStatus;
  return typeof getStatus === 'function' ? Number(getStatus.call(error)) : 500;
}

function refuse(response: ServerResponse, error: unknown): void {
  if (response.headersSent) return void response.destroy();
  const code = status(error);
  response.statusCode = code;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  const message = code === 500 ? 'the API documentation failed to load' : STATUS_CODES[code];
  response.end(JSON.stringify({ statusCode: code, error: STATUS_CODES[code], message }));
}

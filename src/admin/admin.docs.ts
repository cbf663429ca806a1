import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AdminModule } from './admin.module.js';
import { ADMIN_SCHEMAS, ADMIN_SECURITY } from './admin.openapi.js';

/** Where the OpenAPI document is served: the UI at /docs, the JSON at /docs-json. */
export const OPENAPI_PATH = 'docs';

/** Serves the OpenAPI document of the admin API at /docs (UI) and /docs-json, without a key. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
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
  const document = SwaggerModule.createDocument(app, config, { include: [AdminModule] });
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...ADMIN_SCHEMAS },
  };
  SwaggerModule.setup(OPENAPI_PATH, app, document, { customSiteTitle: 'actor-chat admin API' });
}

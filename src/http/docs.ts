// OpenAPI document (/docs/json) and interactive docs (/docs), public like the health routes. The document is
// static (openapi.ts); swagger-ui's routes are marked public by an onRoute hook in this plugin's own scope.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './openapi.js';

export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: openApiDocument(version) as never } });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'public', rateLimit: false } as typeof route.config;
    });
    await scope.register(swaggerUi, { routePrefix: '/docs' });
  });
}

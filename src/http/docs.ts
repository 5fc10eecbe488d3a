// OpenAPI document and interactive docs at /docs (filled in by a later commit).
import type { FastifyInstance } from 'fastify';

export async function registerDocs(_app: FastifyInstance): Promise<void> {}

import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';

const DEMO_PAGE = new URL('../demo/index.html', import.meta.url);

/**
 * Registers `GET /demo`: a phone-sized page that shows the live feed of a new session and sends a
 * tap or a like through the collector when a title is clicked. It needs the collector routes in
 * the same process, so the server registers it in the embedded mode only.
 */
export async function registerDemoPage(instance: FastifyInstance): Promise<void> {
  const page = await readFile(DEMO_PAGE, 'utf8');
  instance.get('/demo', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}

/** The OpenAPI path of `GET /demo`. */
export const DEMO_OPENAPI_PATHS: Record<string, unknown> = {
  '/demo': {
    get: {
      summary: 'Show a phone-sized demo feed of MovieLens titles',
      description: 'Served only where the collector runs beside the ranker on the in-memory store. Tapping a title sends a tap, the heart button a like, and the live feed re-orders.',
      responses: { '200': { description: 'The demo page.', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
};

import type { FastifyInstance, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';

/**
 * Converts a zod schema to an OpenAPI 3 schema object, inlined so that each one is complete on its
 * own. A transform is described by its input, which is what a client sends.
 */
export function toOpenApiSchema(schema: z.ZodTypeAny): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = zodToJsonSchema(schema, { target: 'openApi3', $refStrategy: 'none', effectStrategy: 'input' }) as Record<string, unknown>;
  return rest;
}

/**
 * Builds the OpenAPI error responses of a route from a service's error catalogue: one response per
 * status, whose description lists each code the status can carry. `schemaName` names the error
 * body's schema under `components.schemas`.
 */
export function openApiErrorResponses<Code extends string>(
  catalogue: Readonly<Record<Code, { statusCode: number; description: string }>>,
  codes: readonly Code[],
  schemaName: string,
): Record<string, unknown> {
  const byStatus = new Map<number, Code[]>();
  for (const code of codes) {
    const status = catalogue[code].statusCode;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, statusCodes]) => [
      String(status),
      {
        description: statusCodes.map((code) => `\`${code}\`: ${catalogue[code].description}`).join(' '),
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName}` } } },
      },
    ]),
  );
}

/** The OpenAPI paths of `GET /docs` and `GET /docs/openapi.json`, which return the document itself. */
export const DOCS_OPENAPI_PATHS: Record<string, unknown> = Object.fromEntries(
  ['/docs', '/docs/openapi.json'].map((path) => [
    path,
    {
      get: {
        summary: 'Return this OpenAPI 3.0 document',
        responses: { '200': { description: 'The OpenAPI document of the routes this process serves.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  ]),
);

/**
 * Registers `GET /docs` and `GET /docs/openapi.json`, which return the document of `build`. The
 * document is built at the first request, once every route is registered, and keeps only the
 * operations the server has a route for. So a route that this process does not register, such as
 * an admin route without ADMIN_TOKEN, is left out.
 */
export function registerOpenApiDocumentRoutes(instance: FastifyInstance, build: () => Record<string, unknown>): void {
  let document: Record<string, unknown> | undefined;
  const handler = async () => {
    document ??= withServedPaths(instance, build());
    return document;
  };
  instance.get('/docs', handler);
  instance.get('/docs/openapi.json', handler);
}

/** HTTP methods that an OpenAPI path item may describe. */
const OPERATION_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Returns `document` with only the operations of `paths` that `instance` has a route for. */
function withServedPaths(instance: FastifyInstance, document: Record<string, unknown>): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries((document.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    // OpenAPI writes a path parameter as {id}, fastify as :id.
    const url = path.replace(/\{(\w+)\}/g, ':$1');
    const served = Object.entries(item).filter(
      ([method]) => !OPERATION_METHODS.has(method) || instance.hasRoute({ url, method: method.toUpperCase() as HTTPMethods }),
    );
    if (served.some(([method]) => OPERATION_METHODS.has(method))) {
      paths[path] = Object.fromEntries(served);
    }
  }
  return { ...document, paths };
}

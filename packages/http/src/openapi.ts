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

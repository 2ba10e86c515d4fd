import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError, installErrorHandler, parseBody, parseQuery } from '../src/index';

/** The messages the error handler logs; fastify's own request lines are left out. */
const ERROR_MESSAGES = new Set(['request failed', 'request rejected', 'request refused']);
const CODES = { invalidJson: 'T_INVALID_JSON', bodyTooLarge: 'T_TOO_LARGE', unsupportedMediaType: 'T_MEDIA_TYPE', internal: 'T_INTERNAL' };

/** Serves `error` from GET /fail and returns the reply status and the log lines of the request. */
async function logsOf(error: Error): Promise<{ status: number; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink) as FastifyBaseLogger });
  installErrorHandler(app, CODES);
  app.get('/fail', async () => {
    throw error;
  });
  const response = await app.inject({ method: 'GET', url: '/fail' });
  await app.close();
  return { status: response.statusCode, lines: lines.filter((line) => ERROR_MESSAGES.has(line.msg as string)) };
}

describe('installErrorHandler logging', () => {
  it('logs a deliberate 503 as a warning', async () => {
    const { status, lines } = await logsOf(new ApiError('T_BUSY', 503, 'too many live feeds; retry later', { headers: { 'retry-after': '5' } }));
    expect(status).toBe(503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'request refused', code: 'T_BUSY' });
    expect(lines[0]?.err).toBeUndefined();
  });

  it('logs the cause of a 503', async () => {
    const cause = new Error('broker connection refused');
    const { lines } = await logsOf(new ApiError('T_BUS', 503, 'the bus did not acknowledge', { cause }));
    expect((lines[0]?.err as { message?: string } | undefined)?.message).toBe('broker connection refused');
  });

  it('logs an unexpected error at error level', async () => {
    const { status, lines } = await logsOf(new Error('boom'));
    expect(status).toBe(500);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'request failed', code: 'T_INTERNAL' });
  });

  it('logs a 4xx at info', async () => {
    const { status, lines } = await logsOf(new ApiError('T_BAD', 400, 'limit is invalid', { field: 'limit' }));
    expect(status).toBe(400);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request rejected', code: 'T_BAD', field: 'limit' });
  });
});

describe('parseBody messages', () => {
  const schema = z
    .object({
      name: z.string().min(1),
      count: z.number().int().min(1).max(10).optional(),
      variants: z.array(z.object({ weight: z.number().positive().finite(), labels: z.array(z.string()).max(2).optional() }).strict()).min(1).optional(),
      kind: z.enum(['a', 'b']).optional(),
      note: z.string({ invalid_type_error: 'note must be text' }).optional(),
      items: z.array(z.string().min(1, 'items[] must not be empty')).optional(),
    })
    .strict();

  /** Posts `payload` as JSON (no body when undefined) to a route that parses it with `schema`, and returns the error. */
  async function errorOf(payload: string | undefined): Promise<{ status: number; error: { code: string; message: string; field?: string } }> {
    const app = Fastify();
    installErrorHandler(app, CODES);
    app.post('/parse', async (request) => parseBody(schema, request.body, 'T_INVALID', { example: '{"name":"n1"}' }));
    const response = payload === undefined
      ? await app.inject({ method: 'POST', url: '/parse' })
      : await app.inject({ method: 'POST', url: '/parse', payload, headers: { 'content-type': 'application/json' } });
    await app.close();
    return { status: response.statusCode, error: response.json().error };
  }

  it.each([
    ['no body', undefined, '', 'the request has no body; send a JSON object such as {"name":"n1"} with content-type: application/json'],
    ['null', 'null', '', 'the body must be a JSON object such as {"name":"n1"}; received null'],
    ['an array', '[1,2]', '', 'the body must be a JSON object such as {"name":"n1"}; received [1,2]'],
    ['a missing field', '{}', 'name', 'name is missing; send it as a string'],
    ['a wrong type', '{"name":5}', 'name', 'name must be a string; received 5'],
    ['an empty string', '{"name":""}', 'name', 'name must not be empty; received ""'],
    ['a fraction', '{"name":"n","count":1.5}', 'count', 'count must be a whole number; received 1.5'],
    ['a number under the minimum', '{"name":"n","count":0}', 'count', 'count must be at least 1; received 0'],
    ['a number over the maximum', '{"name":"n","count":11}', 'count', 'count must be at most 10; received 11'],
    ['an empty array', '{"name":"n","variants":[]}', 'variants', 'variants must have at least 1 entry; received []'],
    ['a nested bound', '{"name":"n","variants":[{"weight":0}]}', 'variants.0.weight', 'variants.0.weight must be greater than 0; received 0'],
    ['a non-finite number', '{"name":"n","variants":[{"weight":1e999}]}', 'variants.0.weight', 'variants.0.weight must be a finite number; received Infinity'],
    ['a long nested array', '{"name":"n","variants":[{"weight":1,"labels":["a","b","c"]}]}', 'variants.0.labels', 'variants.0.labels must have at most 2 entries; received ["a","b","c"]'],
    ['a nested unknown field', '{"name":"n","variants":[{"weight":1,"colour":"red"}]}', 'variants.0.colour', 'variants.0.colour is not a known field; remove it (unknown: colour)'],
    ['an unknown field', '{"name":"n","a b":1}', 'a b', 'a b is not a known field; remove it (unknown: a b)'],
    ['an invalid element', '{"name":"n","items":["ok",""]}', 'items.1', 'items.1 must not be empty (received "")'],
    ['an enum value', '{"name":"n","kind":"c"}', 'kind', 'kind must be one of "a", "b"; received "c"'],
    ['a message of the schema', '{"name":"n","note":3}', 'note', 'note must be text (received 3)'],
  ])('describes %s', async (_case, payload, field, message) => {
    const { status, error } = await errorOf(payload);
    expect(status).toBe(400);
    expect(error).toEqual({ code: 'T_INVALID', message, ...(field === '' ? {} : { field }) });
  });

  it('names a query parameter given more than once', async () => {
    const app = Fastify();
    installErrorHandler(app, CODES);
    app.get('/query', async (request) => parseQuery(z.object({ name: z.string() }).strict(), request, 'T_INVALID'));
    const response = await app.inject({ method: 'GET', url: '/query?name=a&name=b' });
    await app.close();
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'T_INVALID',
      field: 'name',
      message: 'the query parameter name was given more than once (received ["a","b"]); send it once',
    });
  });

  it.each([
    ['name=a&other=b&other=c', 'other', 'the query parameter other is not known; remove it (unknown: other; known: name)'],
    ['name=%FF&name=b', 'name', 'the query parameter name is not valid percent-encoded UTF-8 (received "%FF"); percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é'],
    ['name[]=a', 'name[]', 'the query parameter name[] is not known; send name=value once, without []'],
  ])('checks the query %s in order', async (query, field, message) => {
    const app = Fastify();
    installErrorHandler(app, CODES);
    app.get('/query', async (request) => parseQuery(z.object({ name: z.string() }).strict(), request, 'T_INVALID'));
    const response = await app.inject({ method: 'GET', url: `/query?${query}` });
    await app.close();
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'T_INVALID', field, message });
  });
});

import type { BusRecord, EventBus } from '@nexttap/bus';
import { installErrorHandler } from '@nexttap/http';
import { INGEST_HTTP_CODES, ingestConfigSchema, registerCollectorRoutes } from '@nexttap/ingest';
import { createMetricsRegistry } from '@nexttap/observability';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

const NOW_MS = Date.UTC(2026, 0, 1);

/** Returns a bus that keeps every produced record and never fails. */
function recordingBus(): EventBus & { produced: BusRecord[] } {
  const produced: BusRecord[] = [];
  return {
    produced,
    produce: async (_topic, records) => {
      produced.push(...records);
    },
    subscribe: () => Promise.reject(new Error('subscribe is not supported by this test bus')),
    close: async () => {},
  };
}

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Posts `body` as raw JSON text, so numbers such as 1e400 reach the server as sent. */
async function post(path: '/v1/events' | '/v1/catalog', body: string, bus: EventBus = recordingBus()) {
  app = Fastify();
  installErrorHandler(app, INGEST_HTTP_CODES);
  registerCollectorRoutes(app, { config: ingestConfigSchema.parse({}), bus, metrics: createMetricsRegistry(), clock: () => NOW_MS });
  const response = await app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: body });
  return { status: response.statusCode, body: response.json() };
}

describe('collector rejection messages', () => {
  it('show 1e400 as Infinity on catalog', async () => {
    const response = await post(
      '/v1/catalog',
      '{"items":[{"itemId":"a","categories":[],"durationMs":1e400},{"itemId":"b","categories":[],"durationMs":-1e400},{"itemId":"c","categories":[1e400]}]}',
    );
    expect(response.status).toBe(400);
    const messages = response.body.rejected.map((entry: { message: string }) => entry.message);
    expect(messages[0]).toMatch(/^durationMs must be a whole number of milliseconds from 0 to 31622400000 \(366 days\), .* \(received Infinity\)$/);
    expect(messages[1]).toMatch(/\(received -Infinity\)$/);
    expect(messages[2]).toMatch(/^categories\.0 must be .* \(received Infinity\)$/);
  });

  it('show 1e400 as Infinity on events', async () => {
    const event = '"eventId":"e1","type":"tap","ts":1767225500000,"sessionId":"s1","itemId":"i1"';
    const response = await post('/v1/events', `{"events":[{${event},"dwellMs":1e400},{${event},"value":-1e400},{${event},"context":{"a":1e400}}]}`);
    expect(response.status).toBe(400);
    const messages = response.body.rejected.map((entry: { message: string }) => entry.message);
    expect(messages[0]).toMatch(/^dwellMs must be .* \(received Infinity\)$/);
    expect(messages[1]).toBe('value must be a finite number, such as 4.5 (received -Infinity)');
    expect(messages[2]).toMatch(/^context\.a must be .* \(received Infinity\)$/);
  });

  it('name a non-object catalog item', async () => {
    const response = await post('/v1/catalog', '{"items":[null,1,"x",[]]}');
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'INGEST_ERR_ALL_EVENTS_REJECTED', field: 'items.0' });
    const example = '{"itemId":"i1","categories":["drama"]}';
    expect(response.body.rejected).toEqual([
      { index: 0, code: 'EVENT_NOT_AN_OBJECT', message: `a catalog item must be a JSON object, such as ${example} (received null)` },
      { index: 1, code: 'EVENT_NOT_AN_OBJECT', message: `a catalog item must be a JSON object, such as ${example} (received 1)` },
      { index: 2, code: 'EVENT_NOT_AN_OBJECT', message: `a catalog item must be a JSON object, such as ${example} (received "x")` },
      { index: 3, code: 'EVENT_NOT_AN_OBJECT', message: `a catalog item must be a JSON object, such as ${example} (received [])` },
    ]);
    expect(response.body.rejected[0]).not.toHaveProperty('field');
  });

  it('name an impossible publishedAt time', async () => {
    const response = await post('/v1/catalog', '{"items":[{"itemId":"a","categories":[],"publishedAt":"2024-05-01T12:60:00Z"}]}');
    expect(response.body.rejected[0]).toMatchObject({ code: 'EVENT_INVALID_FIELD', field: 'publishedAt' });
    expect(response.body.rejected[0].message).toMatch(/^publishedAt "2024-05-01T12:60:00Z" has an invalid time of day, because minute 60 does not exist; /);
  });
});

describe('collector id whitespace', () => {
  const event = { eventId: 'e1', type: 'tap', ts: NOW_MS - 1_000, sessionId: 's1', itemId: 'i1' };

  it('rejects a session id with a leading space', async () => {
    const response = await post('/v1/events', JSON.stringify({ events: [{ ...event, sessionId: ' 42' }] }));

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: { code: 'INGEST_ERR_ALL_EVENTS_REJECTED', field: 'events.0.sessionId', message: 'all 1 events were rejected; see rejected[] for each reason' },
      accepted: 0,
      rejected: [
        {
          index: 0,
          code: 'EVENT_INVALID_FIELD',
          field: 'sessionId',
          message: 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace (received " 42")',
        },
      ],
    });
  });

  it('accepts the other events of the request', async () => {
    const bus = recordingBus();
    const body = JSON.stringify({ events: [{ ...event, itemId: '7\u00a0' }, { ...event, eventId: 'e2', userId: 'u 1' }] });

    const response = await post('/v1/events', body, bus);

    expect(response.status).toBe(202);
    expect(response.body).toEqual({
      accepted: 1,
      rejected: [
        {
          index: 0,
          code: 'EVENT_INVALID_FIELD',
          field: 'itemId',
          message: 'itemId ends with whitespace ("\\u00a0"); send the id without the surrounding whitespace (received "7\\u00a0")',
        },
      ],
    });
    expect(bus.produced.map((record) => JSON.parse(String(record.value)).eventId)).toEqual(['e2']);
  });

  it('rejects catalog ids with surrounding whitespace', async () => {
    const response = await post('/v1/catalog', JSON.stringify({ items: [{ itemId: '7 ', categories: [] }, { itemId: '8', categories: ['Drama', '\tWar'] }] }));

    expect(response.status).toBe(400);
    expect(response.body.rejected).toEqual([
      { index: 0, code: 'EVENT_INVALID_FIELD', field: 'itemId', message: 'itemId ends with whitespace (" "); send the id without the surrounding whitespace (received "7 ")' },
      {
        index: 1,
        code: 'EVENT_INVALID_FIELD',
        field: 'categories.1',
        message: 'categories.1 starts with whitespace ("\\t"); send the id without the surrounding whitespace (received "\\tWar")',
      },
    ]);
  });
});

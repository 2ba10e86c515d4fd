import { TOPICS, topicName, type EventBus } from '@nexttap/bus';
import { toWireCatalogItem, validateCatalogItem, validateInteraction, type Rejection } from '@nexttap/events';
import { parseBody, quoteText, rejectQueryParameters } from '@nexttap/http';
import { Counter, type Registry } from '@nexttap/observability';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MAX_EVENTS_PER_REQUEST, type IngestConfig } from './config';
import { ingestError } from './errors';

export interface CollectorDependencies {
  config: IngestConfig;
  bus: EventBus;
  metrics: Registry;
  clock?: () => number;
}

/** One rejected entry of a collector request, by its index in the request. */
export interface RejectedEntry extends Rejection {
  index: number;
}

/** A valid body of `POST /v1/events`, shown when a body is missing, not a JSON object or has no valid `events`. */
const EVENTS_EXAMPLE = '{"events":[{"eventId":"e1","type":"tap","ts":1767268800000,"sessionId":"s1","itemId":"i1"}]}';
/** A valid body of `POST /v1/catalog`, shown when a body is missing, not a JSON object or has no valid `items`. */
const CATALOG_EXAMPLE = '{"items":[{"itemId":"i1","categories":["drama"]}]}';

const eventsBodySchema = z
  .object({
    events: z
      .array(z.unknown(), {
        required_error: `events is missing; send an array of 1 to ${MAX_EVENTS_PER_REQUEST} events, as in ${EVENTS_EXAMPLE}`,
        invalid_type_error: `events must be an array of 1 to ${MAX_EVENTS_PER_REQUEST} events, as in ${EVENTS_EXAMPLE}`,
      })
      .min(1, `events is empty; send 1 to ${MAX_EVENTS_PER_REQUEST} events, as in ${EVENTS_EXAMPLE}`)
      .max(MAX_EVENTS_PER_REQUEST, `events has more than ${MAX_EVENTS_PER_REQUEST} entries; split it into requests of at most ${MAX_EVENTS_PER_REQUEST} events`),
  })
  .strict();

const catalogBodySchema = z
  .object({
    items: z
      .array(z.unknown(), {
        required_error: `items is missing; send an array of 1 to ${MAX_EVENTS_PER_REQUEST} catalog items, as in ${CATALOG_EXAMPLE}`,
        invalid_type_error: `items must be an array of 1 to ${MAX_EVENTS_PER_REQUEST} catalog items, as in ${CATALOG_EXAMPLE}`,
      })
      .min(1, `items is empty; send 1 to ${MAX_EVENTS_PER_REQUEST} catalog items, as in ${CATALOG_EXAMPLE}`)
      .max(MAX_EVENTS_PER_REQUEST, `items has more than ${MAX_EVENTS_PER_REQUEST} entries; split it into requests of at most ${MAX_EVENTS_PER_REQUEST} items`),
  })
  .strict();
/** Characters of a repeated id shown in a message; ids have at most 128. */
const SHOWN_ID_LENGTH = 64;

/**
 * Registers the collector: `POST /v1/events` and `POST /v1/catalog`. Valid entries go to the bus
 * and the reply lists why each other entry was rejected. The reply is sent only after the bus
 * acknowledged the valid entries; if it did not, nothing is accepted and the client retries the
 * whole request, which the eventId de-duplication makes safe. A request in which two valid
 * entries share an eventId (an itemId on the catalog) is rejected whole, see `rejectRepeatedIds`.
 */
export function registerCollectorRoutes(instance: FastifyInstance, dependencies: CollectorDependencies): void {
  const clock = dependencies.clock ?? Date.now;
  const { config, bus } = dependencies;
  const received = new Counter({
    name: 'nexttap_collector_events_total',
    help: 'Entries received by the collector, by topic and outcome (accepted or the rejection code)',
    labelNames: ['topic', 'outcome'],
    registers: [dependencies.metrics],
  });

  instance.post('/v1/events', { bodyLimit: config.collectorBodyLimitBytes }, async (request, reply) => {
    rejectQueryParameters(request, 'INGEST_ERR_INVALID_REQUEST');
    const body = parseBody(eventsBodySchema, request.body, 'INGEST_ERR_INVALID_REQUEST', { example: EVENTS_EXAMPLE });
    const nowMs = clock();
    const rejected: RejectedEntry[] = [];
    const records = [];
    const ids: IndexedId[] = [];
    for (const [index, raw] of body.events.entries()) {
      const result = validateInteraction(raw, { nowMs, maxFutureSkewMs: config.maxFutureSkewMs, maxLatenessMs: config.maxEventLatenessMs });
      if (result.ok) {
        records.push({ key: result.value.sessionId, value: JSON.stringify(result.value) });
        ids.push({ index, id: result.value.eventId, scope: result.value.sessionId });
      } else {
        rejected.push({ index, ...result.rejection });
        received.inc({ topic: TOPICS.interactions, outcome: result.rejection.code });
      }
    }
    rejectRepeatedIds(ids, { list: 'events', idField: 'eventId', fix: 'give every event its own eventId' });
    if (records.length === 0) {
      throw ingestError('INGEST_ERR_ALL_EVENTS_REJECTED', `all ${rejected.length} events were rejected; see rejected[] for each reason`, {
        ...firstField(rejected, 'events'),
        extra: { accepted: 0, rejected },
      });
    }
    await produceOrThrow(bus, topicName(config.topicPrefix, TOPICS.interactions), records);
    received.inc({ topic: TOPICS.interactions, outcome: 'accepted' }, records.length);
    return reply.status(202).send({ accepted: records.length, rejected });
  });

  instance.post('/v1/catalog', { bodyLimit: config.collectorBodyLimitBytes }, async (request, reply) => {
    rejectQueryParameters(request, 'INGEST_ERR_INVALID_REQUEST');
    const body = parseBody(catalogBodySchema, request.body, 'INGEST_ERR_INVALID_REQUEST', { example: CATALOG_EXAMPLE });
    const rejected: RejectedEntry[] = [];
    const records = [];
    const ids: IndexedId[] = [];
    for (const [index, raw] of body.items.entries()) {
      const result = validateCatalogItem(raw);
      if (result.ok) {
        records.push({ key: result.value.itemId, value: JSON.stringify(toWireCatalogItem(result.value)) });
        ids.push({ index, id: result.value.itemId });
      } else {
        rejected.push({ index, ...result.rejection });
        received.inc({ topic: TOPICS.catalog, outcome: result.rejection.code });
      }
    }
    rejectRepeatedIds(ids, { list: 'items', idField: 'itemId', fix: 'send one record per item, the one that should stay' });
    if (records.length === 0) {
      throw ingestError('INGEST_ERR_ALL_EVENTS_REJECTED', `all ${rejected.length} items were rejected; see rejected[] for each reason`, {
        ...firstField(rejected, 'items'),
        extra: { accepted: 0, rejected },
      });
    }
    await produceOrThrow(bus, topicName(config.topicPrefix, TOPICS.catalog), records);
    received.inc({ topic: TOPICS.catalog, outcome: 'accepted' }, records.length);
    return reply.status(202).send({ accepted: records.length, rejected });
  });
}

/** The id of a valid entry, by the entry's index in the request. */
interface IndexedId {
  index: number;
  id: string;
  /** The session of an event: ingest recognises a repeat by session and eventId together. */
  scope?: string;
}

/**
 * Rejects the whole request with INGEST_ERR_INVALID_REQUEST when two valid entries share an id,
 * naming both. Ingest applies an event once per session and eventId, so it would drop the later
 * event of one session as a repeat after the reply counted it as accepted. A later catalog record of an item replaces the earlier one, so
 * only the later of two would take effect. The request is rejected rather than one picked for the client.
 * Ids are compared after NFC normalisation, as ingest compares them.
 */
function rejectRepeatedIds(ids: readonly IndexedId[], names: { list: 'events' | 'items'; idField: 'eventId' | 'itemId'; fix: string }): void {
  const firstIndexById = new Map<string, number>();
  for (const { index, id, scope } of ids) {
    // A NUL byte never occurs in an id, so it separates the session from the eventId.
    const key = scope === undefined ? id : `${scope}\u0000${id}`;
    const firstIndex = firstIndexById.get(key);
    if (firstIndex !== undefined) {
      const { list, idField, fix } = names;
      throw ingestError(
        'INGEST_ERR_INVALID_REQUEST',
        `${list}.${index}.${idField} ${quoteText(id, SHOWN_ID_LENGTH)} repeats ${list}.${firstIndex}.${idField}; ${fix}`,
        { field: `${list}.${index}.${idField}` },
      );
    }
    firstIndexById.set(key, index);
  }
}

async function produceOrThrow(bus: EventBus, topic: string, records: Array<{ key: string; value: string }>): Promise<void> {
  try {
    await bus.produce(topic, records);
  } catch (error) {
    throw ingestError('INGEST_ERR_BUS_UNAVAILABLE', `the event bus did not acknowledge ${records.length} records on ${topic}; retry the request`, {
      headers: { 'retry-after': '1' },
      cause: error,
    });
  }
}

/** Names the field of the first rejected entry, as a path from the body (e.g. `events.3.ts`). */
function firstField(rejected: readonly RejectedEntry[], list: 'events' | 'items'): { field?: string } {
  const first = rejected[0];
  if (first === undefined) {
    return {};
  }
  return { field: first.field === undefined ? `${list}.${first.index}` : `${list}.${first.index}.${first.field}` };
}

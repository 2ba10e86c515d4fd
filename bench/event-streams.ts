import { applyInteractions } from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';

/** Events per `applyInteractions` call, as one ingest batch. */
export const BATCH_EVENTS = 500;

/**
 * Splits events into `count` streams by session, keeping their order, as Kafka partitions keyed by
 * session would. Each stream is one batch in flight.
 */
export function splitBySession<T extends { sessionId: string }>(events: readonly T[], count: number): T[][] {
  const streams = Array.from({ length: count }, () => [] as T[]);
  for (const event of events) {
    streams[partitionOf(event.sessionId, count)]?.push(event);
  }
  return streams;
}

/** Applies each stream in batches of `BATCH_EVENTS`, the streams side by side. */
export async function applyStreams(store: FeatureStore, streams: ReadonlyArray<Parameters<typeof applyInteractions>[1]>): Promise<void> {
  await Promise.all(
    streams.map(async (stream) => {
      for (let start = 0; start < stream.length; start += BATCH_EVENTS) {
        await applyInteractions(store, stream.slice(start, start + BATCH_EVENTS));
      }
    }),
  );
}

/** Returns the partition of a session, stable across calls, as a Kafka partition of its key would be. */
function partitionOf(sessionId: string, partitions: number): number {
  let hash = 0;
  for (let index = 0; index < sessionId.length; index++) {
    hash = (hash * 31 + sessionId.charCodeAt(index)) | 0;
  }
  return Math.abs(hash) % partitions;
}

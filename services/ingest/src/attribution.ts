import type { Interaction } from '@nexttap/events';
import type { FeatureStore, PlannedWrite } from '@nexttap/features';
import { planAttribution } from '@nexttap/model/experiments';
import { servedFeedKeys } from '@nexttap/rank';

/**
 * Counts the events that name a served feed (`feedId`) towards the experiment variant stored in
 * the feed's record. One round trip reads the records of the batch's feeds and a second applies
 * the counters. Each event is counted once per eventId, and each feed's first tap once.
 * Events of feeds outside an experiment, or whose record expired, are not counted.
 *
 * NOTE: the read returns each feed's whole record, ranking included (a few KB for 200 items),
 * because the store reads whole hashes. Batches with many attributed events pay for that.
 */
export async function attributeToExperiments(store: FeatureStore, events: readonly Interaction[]): Promise<void> {
  const attributed = events.filter((event) => event.feedId !== undefined);
  if (attributed.length === 0) {
    return;
  }
  const keys = [...new Set(attributed.map((event) => servedFeedKeys.feed(event.sessionId, event.feedId as string)))];
  const [result] = await store.read([{ kind: 'hashes', keys }]);
  const records = new Map(keys.map((key, index) => [key, result?.kind === 'hashes' ? result.value[index] : undefined]));

  const writes: PlannedWrite[] = [];
  const tappedFeeds = new Set<string>();
  for (const event of attributed) {
    const feedId = event.feedId as string;
    const record = records.get(servedFeedKeys.feed(event.sessionId, feedId));
    const experimentId = record?.experiment;
    if (record === undefined || experimentId === undefined || record.variant === undefined) {
      continue;
    }
    const firstTap = event.type === 'tap' && !tappedFeeds.has(feedId);
    if (firstTap) {
      tappedFeeds.add(feedId);
    }
    const position = event.position ?? servedPosition(record, event.itemId);
    writes.push(
      ...planAttribution(
        { experimentId, variant: record.variant, eventId: event.eventId, feedId, type: event.type, dwellMs: event.dwellMs, position },
        firstTap,
      ),
    );
  }
  if (writes.length > 0) {
    await store.apply(writes);
  }
}

/** Returns the item's 0-based position among the feed's served pages (`page:<offset>` fields), if it was served. */
function servedPosition(record: Readonly<Record<string, string>>, itemId: string): number | undefined {
  for (const [field, text] of Object.entries(record)) {
    if (!field.startsWith('page:')) {
      continue;
    }
    let items: unknown;
    try {
      items = JSON.parse(text);
    } catch {
      continue;
    }
    const index = Array.isArray(items) ? items.indexOf(itemId) : -1;
    if (index >= 0) {
      return Number(field.slice('page:'.length)) + index;
    }
  }
  return undefined;
}

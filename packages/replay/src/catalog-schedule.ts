import type { CatalogItem, Interaction } from '@nexttap/events';
import { compareText } from './ordering';

/** A catalog item and the event time from which the replay knows it. */
export interface ScheduledItem {
  item: CatalogItem;
  availableAtMs: number;
}

/**
 * Orders catalog items by the time they become known, so that no feed evaluated at time t holds an
 * item that did not exist yet. An item is known from its `publishedAt`, or from its first
 * interaction when that comes earlier or the item has no `publishedAt`. An item with neither is
 * never applied: nothing in the log shows when it joined the catalog, and none of its events can
 * be a target.
 *
 * NOTE: MovieLens dates a film at 1 January of its release year, so a film released late in the
 * year may enter the pools up to a year before its release; it cannot appear before that date.
 */
export function scheduleCatalog(catalog: readonly CatalogItem[], events: readonly Interaction[]): ScheduledItem[] {
  const firstEventMs = new Map<string, number>();
  for (const event of events) {
    const known = firstEventMs.get(event.itemId);
    if (known === undefined || event.ts < known) {
      firstEventMs.set(event.itemId, event.ts);
    }
  }
  const scheduled: ScheduledItem[] = [];
  for (const item of catalog) {
    const availableAtMs = Math.min(item.publishedAt ?? Number.POSITIVE_INFINITY, firstEventMs.get(item.itemId) ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(availableAtMs)) {
      scheduled.push({ item, availableAtMs });
    }
  }
  return scheduled.sort((a, b) => a.availableAtMs - b.availableAtMs || compareText(a.item.itemId, b.item.itemId));
}

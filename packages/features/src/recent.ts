import { INTERACTION_TYPES, type Interaction, type InteractionType } from '@nexttap/events';

/** One entry of a session's recent events, newest first in the list. */
export interface RecentEntry {
  itemId: string;
  type: InteractionType;
  tMs: number;
  /** Dwell in ms when the event carried one. */
  dwellMs: number | undefined;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(INTERACTION_TYPES);

/** Encodes a recent entry as `type|ts|dwellMs|itemId`; the item id goes last because it may contain `|`. */
export function encodeRecent(event: Interaction): string {
  return `${event.type}|${event.ts}|${event.dwellMs ?? ''}|${event.itemId}`;
}

/** Decodes a recent entry; returns undefined for text in another format. */
export function decodeRecent(text: string): RecentEntry | undefined {
  const first = text.indexOf('|');
  const second = text.indexOf('|', first + 1);
  const third = text.indexOf('|', second + 1);
  if (first < 0 || second < 0 || third < 0) {
    return undefined;
  }
  const type = text.slice(0, first);
  if (!KNOWN_TYPES.has(type)) {
    return undefined;
  }
  const dwell = text.slice(second + 1, third);
  return {
    type: type as InteractionType,
    tMs: Number(text.slice(first + 1, second)),
    dwellMs: dwell === '' ? undefined : Number(dwell),
    itemId: text.slice(third + 1),
  };
}

/** Returns the entry an event becomes in the recent list. */
export function toRecentEntry(event: Interaction): RecentEntry {
  return { itemId: event.itemId, type: event.type, tMs: event.ts, dwellMs: event.dwellMs };
}

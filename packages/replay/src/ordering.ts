import type { Interaction } from '@nexttap/events';

/**
 * Orders interactions by `ts`, then by `sessionId`, then by `eventId`, comparing ids by UTF-16
 * code units. The tie-break uses only the events' own fields, so any permutation of one log sorts
 * to the same sequence. Two events with equal session and event ids (a redelivered event) are
 * ordered by their serialised fields, so even differing duplicates sort the same way every time.
 */
export function compareInteractions(a: Interaction, b: Interaction): number {
  return a.ts - b.ts || compareText(a.sessionId, b.sessionId) || compareText(a.eventId, b.eventId) || compareText(canonicalText(a), canonicalText(b));
}

/** Returns a sorted copy of `events`; see `compareInteractions` for the order. */
export function sortInteractions(events: readonly Interaction[]): Interaction[] {
  return [...events].sort(compareInteractions);
}

/** Compares strings by UTF-16 code units, independent of the locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Serialises an event with its keys sorted, so equal events give equal text. */
function canonicalText(event: Interaction): string {
  return JSON.stringify(event, Object.keys(event).sort());
}

import { decodeCatalogItem, decodeInteraction, type CatalogItem, type Interaction } from '@nexttap/events';
import { readJsonLines } from './json-lines';
import { RejectionCounter, REPLAY_VALIDATION, type ReplayInput } from './replay-input';

/**
 * Reads nexttap interactions from JSON Lines files and catalog items from others, gzip-compressed
 * or not. Each line is validated as the collector validates a client's event; an invalid line is
 * counted by reason and left out, as ingest leaves it out of the features. When a catalog file
 * lists an item again, the later record wins, as on the compacted `catalog` topic.
 */
export async function readJsonlInput(eventFiles: readonly string[], catalogFiles: readonly string[]): Promise<ReplayInput> {
  const rejections = new RejectionCounter();
  const catalog = new Map<string, CatalogItem>();
  for (const file of catalogFiles) {
    for await (const { line, text } of readJsonLines(file, '--catalog')) {
      const result = decodeCatalogItem(text);
      if (result.ok) {
        catalog.set(result.value.itemId, result.value);
      } else {
        rejections.add(`${file}:${line}`, result.rejection);
      }
    }
  }
  const events: Interaction[] = [];
  for (const file of eventFiles) {
    for await (const { line, text } of readJsonLines(file, '--events')) {
      const result = decodeInteraction(text, REPLAY_VALIDATION);
      if (result.ok) {
        events.push(result.value);
      } else {
        rejections.add(`${file}:${line}`, result.rejection);
      }
    }
  }
  return {
    source: { kind: 'jsonl', eventFiles: [...eventFiles], catalogFiles: [...catalogFiles] },
    catalog: [...catalog.values()],
    events,
    rejected: rejections.result,
  };
}

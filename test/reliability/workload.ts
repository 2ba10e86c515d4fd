import type { CatalogItem, Interaction, InteractionType } from '@nexttap/events';

/**
 * Options of a deterministic stream of interactions for the fault runs. Sessions interleave over a
 * time span that ends a minute before `endMs`, with each session's events in time order. Two
 * sessions share each user, so user features receive writes from several partitions.
 */
export interface WorkloadOptions {
  events: number;
  sessions: number;
  items: number;
  /** Prefix of every id, so that runs on one Redis or topic never share keys. */
  idPrefix: string;
  endMs: number;
  seed: number;
}

export interface Workload {
  catalog: CatalogItem[];
  events: Interaction[];
  sessionIds: string[];
  itemIds: string[];
  /** The user of each session, by session id. */
  userOf: Map<string, string>;
}

const TYPES: Array<{ type: InteractionType; weight: number }> = [
  { type: 'impression', weight: 40 },
  { type: 'tap', weight: 15 },
  { type: 'play', weight: 15 },
  { type: 'complete', weight: 8 },
  { type: 'skip', weight: 10 },
  { type: 'like', weight: 6 },
  { type: 'share', weight: 2 },
  { type: 'comment', weight: 2 },
  { type: 'hide', weight: 2 },
];
const TOTAL_WEIGHT = TYPES.reduce((sum, entry) => sum + entry.weight, 0);
const CATEGORIES = 12;
const CREATORS = 40;
/** Span of the event times: 40 minutes, well within the 1-day lateness and de-duplication window. */
const SPAN_MS = 40 * 60_000;

/** Returns a generator of uniform numbers in [0, 1): mulberry32, so a seed fixes the whole workload. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pickType(random: () => number): InteractionType {
  let remaining = random() * TOTAL_WEIGHT;
  for (const entry of TYPES) {
    remaining -= entry.weight;
    if (remaining < 0) {
      return entry.type;
    }
  }
  return 'impression';
}

/** Builds the catalog and the events of a workload. */
export function buildWorkload(options: WorkloadOptions): Workload {
  const random = seededRandom(options.seed);
  const itemIds = Array.from({ length: options.items }, (_, index) => `${options.idPrefix}-item-${index}`);
  const catalog: CatalogItem[] = itemIds.map((itemId, index) => ({
    itemId,
    categories: [`${options.idPrefix}-category-${index % CATEGORIES}`, `${options.idPrefix}-category-${(index * 7) % CATEGORIES}`].filter(
      (category, position, all) => all.indexOf(category) === position,
    ),
    creatorId: `${options.idPrefix}-creator-${index % CREATORS}`,
    kind: 'video',
  }));
  const sessionIds = Array.from({ length: options.sessions }, (_, index) => `${options.idPrefix}-session-${index}`);
  const userOf = new Map(sessionIds.map((sessionId, index) => [sessionId, `${options.idPrefix}-user-${Math.floor(index / 2)}`]));

  const startMs = options.endMs - 60_000 - SPAN_MS;
  const stepMs = SPAN_MS / options.events;
  const events: Interaction[] = [];
  for (let index = 0; index < options.events; index++) {
    const sessionId = sessionIds[Math.floor(random() * sessionIds.length)] as string;
    const type = pickType(random);
    const event: Interaction = {
      eventId: `${options.idPrefix}-event-${index}`,
      type,
      ts: Math.floor(startMs + index * stepMs),
      sessionId,
      itemId: itemIds[Math.floor(random() * itemIds.length)] as string,
    };
    if (random() < 0.7) {
      event.userId = userOf.get(sessionId) as string;
    }
    if (type === 'play' || type === 'tap' || type === 'complete') {
      event.dwellMs = Math.floor(random() * 60_000);
    }
    if (random() < 0.5) {
      event.position = Math.floor(random() * 20);
    }
    events.push(event);
  }
  return { catalog, events, sessionIds, itemIds, userOf };
}

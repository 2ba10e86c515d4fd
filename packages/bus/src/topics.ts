/** Names of the topics that nexttap services produce to and consume from. */
export const TOPICS = {
  /** User interaction events, keyed by session id so that one session stays on one partition. */
  interactions: 'interactions',
  /** Catalog item updates, keyed by item id. */
  catalog: 'catalog',
  /** Dead-letter topic for interaction events that failed validation. */
  interactionsDlq: 'interactions.dlq',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/**
 * Returns `name` prefixed with `prefix` and a dot, or `name` itself when the
 * prefix is empty. Tests pass a unique prefix so that runs sharing a cluster
 * do not read each other's records.
 */
export function topicName(prefix: string, name: string): string {
  return prefix.length === 0 ? name : `${prefix}.${name}`;
}

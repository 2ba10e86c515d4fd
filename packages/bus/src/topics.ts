/** Names of the topics that nexttap services produce to and consume from. */
export const TOPICS = {
  /** User interaction events, keyed by session id so that one session stays on one partition. */
  interactions: 'interactions',
  /** Catalog item updates, keyed by item id. */
  catalog: 'catalog',
  /**
   * Dead-letter topic of ingest, for interaction events and catalog items that failed validation.
   * The `nexttap-source-topic` header of each record names the topic it came from.
   */
  interactionsDlq: 'interactions.dlq',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Max length of an Apache Kafka topic name, in characters. */
export const MAX_TOPIC_NAME_LENGTH = 249;

/** Apache Kafka's rule for topic names: 1 to 249 characters from a-z, A-Z, 0-9, `.`, `_` and `-`. */
export const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Returns `name` prefixed with `prefix` and a dot, or `name` itself when the
 * prefix is empty. Tests pass a unique prefix so that runs sharing a cluster
 * do not read each other's records.
 */
export function topicName(prefix: string, name: string): string {
  return prefix.length === 0 ? name : `${prefix}.${name}`;
}

/** The longest name in TOPICS, `interactions.dlq`. */
const LONGEST_TOPIC = Object.values(TOPICS).reduce((longest, name) => (name.length > longest.length ? name : longest));

/** Maximum length of a topic prefix, in characters, so that the prefix, a dot and the longest name in TOPICS fit in a Kafka topic name. */
export const MAX_TOPIC_PREFIX_LENGTH = MAX_TOPIC_NAME_LENGTH - 1 - LONGEST_TOPIC.length;

/**
 * Returns what is wrong with a topic prefix, or undefined when every name in TOPICS, prefixed with
 * it, is a valid Kafka topic name. The result completes a sentence that starts with the prefix.
 */
export function topicPrefixProblem(prefix: string): string | undefined {
  const invalidCharacters = [...new Set(prefix.replace(/[a-zA-Z0-9._-]/g, ''))];
  if (invalidCharacters.length > 0) {
    return `contains ${invalidCharacters.map((character) => JSON.stringify(character)).join(', ')}, which Kafka does not allow in a topic name; use only a-z, A-Z, 0-9, ".", "_" and "-"`;
  }
  if (prefix.length > MAX_TOPIC_PREFIX_LENGTH) {
    return `is ${prefix.length} characters long, so the topic ${JSON.stringify(topicName('<prefix>', LONGEST_TOPIC))} would exceed Kafka's limit of ${MAX_TOPIC_NAME_LENGTH} characters; use at most ${MAX_TOPIC_PREFIX_LENGTH}`;
  }
  return undefined;
}

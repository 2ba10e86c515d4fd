const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_MULTIPLIER = 0x5bd1e995;

/**
 * Returns the 32-bit MurmurHash2 of `data` as a signed integer, with the seed
 * that the Java Kafka client and kafkajs' DefaultPartitioner use.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let hash = (MURMUR2_SEED ^ length) | 0;
  const wholeWords = length - (length % 4);

  for (let index = 0; index < wholeWords; index += 4) {
    let word =
      (data[index] ?? 0) | ((data[index + 1] ?? 0) << 8) | ((data[index + 2] ?? 0) << 16) | ((data[index + 3] ?? 0) << 24);
    word = Math.imul(word, MURMUR2_MULTIPLIER);
    word ^= word >>> 24;
    word = Math.imul(word, MURMUR2_MULTIPLIER);
    hash = Math.imul(hash, MURMUR2_MULTIPLIER) ^ word;
  }

  // The 1 to 3 trailing bytes are mixed in from the highest to the lowest.
  const remaining = length % 4;
  if (remaining >= 3) {
    hash ^= (data[wholeWords + 2] ?? 0) << 16;
  }
  if (remaining >= 2) {
    hash ^= (data[wholeWords + 1] ?? 0) << 8;
  }
  if (remaining >= 1) {
    hash ^= data[wholeWords] ?? 0;
    hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  }

  hash ^= hash >>> 13;
  hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  hash ^= hash >>> 15;
  return hash | 0;
}

/**
 * Returns the partition of a keyed record: the positive part of the key's
 * UTF-8 murmur2 hash modulo `partitionCount`. This is the rule of Kafka's
 * default partitioner, so the in-process bus places keys on the same
 * partitions as `KafkaBus`.
 */
export function partitionForKey(key: string, partitionCount: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitionCount;
}

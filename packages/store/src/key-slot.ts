/** Number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16_384;

const CRC16_TABLE = buildCrc16Table();

/**
 * Computes a key's Redis Cluster hash slot: CRC16 (XMODEM: polynomial 0x1021, initial value 0)
 * of the key's UTF-8 bytes, modulo 16384. When the key contains `{…}` with at least one character
 * between the first `{` and the next `}`, only those characters are hashed (the hash tag), as the
 * Redis Cluster specification defines it.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      return crc16(key, open + 1, close) % SLOT_COUNT;
    }
  }
  return crc16(key, 0, key.length) % SLOT_COUNT;
}

/** CRC16-XMODEM of the UTF-8 bytes of `text.slice(start, end)`. */
function crc16(text: string, start: number, end: number): number {
  let crc = 0;
  for (let index = start; index < end; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0x80) {
      return crc16OfBytes(Buffer.from(text.slice(start, end), 'utf8'));
    }
    crc = ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ code) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

function crc16OfBytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc = ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[byte] = crc;
  }
  return table;
}

let slotTags: string[] | undefined;

/**
 * Returns a short hash tag whose keys land in `slot`, so that a key `…{tag}…` can be placed in the
 * slot of any other key. The table of all 16384 tags is built on first use, from base-36 numbers
 * in order (about 170,000 CRC16 computations, a few milliseconds).
 */
export function slotTag(slot: number): string {
  slotTags ??= buildSlotTags();
  const tag = slotTags[slot];
  if (tag === undefined) {
    throw new RangeError(`invalid hash slot ${slot}: slots are integers from 0 to ${SLOT_COUNT - 1}`);
  }
  return tag;
}

function buildSlotTags(): string[] {
  const tags = new Array<string>(SLOT_COUNT);
  let missing = SLOT_COUNT;
  for (let number = 0; missing > 0; number++) {
    const tag = number.toString(36);
    const slot = crc16(tag, 0, tag.length) % SLOT_COUNT;
    if (tags[slot] === undefined) {
      tags[slot] = tag;
      missing -= 1;
    }
  }
  return tags;
}

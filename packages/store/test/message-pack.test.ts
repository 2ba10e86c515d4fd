import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessagePack, type PackableValue } from '../src/message-pack';

/**
 * Decodes ARGV[1] with Redis's cmsgpack, as the apply script does, and describes what Lua got:
 * every number as the hex of its big-endian double, so a test compares each bit, and every string
 * with its byte length.
 */
const DESCRIBE_SCRIPT = `
local function hex(bytes)
  return (string.gsub(bytes, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function describe(value)
  local kind = type(value)
  if kind == 'number' then
    return 'n:' .. hex(struct.pack('>d', value))
  elseif kind == 'string' then
    return 's' .. #value .. ':' .. value
  elseif kind == 'boolean' then
    return tostring(value)
  end
  local keys = {}
  for key in pairs(value) do
    if type(key) == 'string' then
      keys[#keys + 1] = key
    end
  end
  local parts = {}
  if #keys > 0 then
    table.sort(keys)
    for _, key in ipairs(keys) do
      parts[#parts + 1] = key .. '=' .. describe(value[key])
    end
    return '{' .. table.concat(parts, ',') .. '}'
  end
  for i = 1, #value do
    parts[i] = describe(value[i])
  end
  return '[' .. table.concat(parts, ',') .. ']'
end
return describe(cmsgpack.unpack(ARGV[1]))
`;

/** The description DESCRIBE_SCRIPT returns for a value, built in JavaScript. */
function describeValue(value: PackableValue): string {
  if (typeof value === 'number') {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);
    return `n:${bytes.toString('hex')}`;
  }
  if (typeof value === 'string') {
    return `s${Buffer.byteLength(value)}:${value}`;
  }
  if (typeof value === 'boolean') {
    return String(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((element) => describeValue(element as PackableValue)).join(',')}]`;
  }
  const object = value as { readonly [key: string]: PackableValue };
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${key}=${describeValue(object[key] as PackableValue)}`).join(',')}}`;
}

let server: RedisServer | undefined;
let client: Redis | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

async function decodedInRedis(value: PackableValue): Promise<string> {
  return (await client?.eval(DESCRIBE_SCRIPT, 0, encodeMessagePack(value))) as string;
}

describe('encodeMessagePack', () => {
  it('keeps every number bit for bit', async () => {
    const numbers = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296, -1, -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648, -2_147_483_649];
    const doubles = [0.1, 1 / 3, 1e-300, 1.7976931348623157e308, 975_031_129_000, 2 ** 53, -2.5, 7_776_000_000];
    for (const value of [...numbers, ...doubles]) {
      expect(await decodedInRedis([value]), String(value)).toBe(describeValue([value]));
    }
  });

  it('writes strings of every header size', async () => {
    const strings = ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(300), 'x'.repeat(70_000)];
    for (const text of strings) {
      expect(await decodedInRedis([text]), `${text.length} characters`).toBe(describeValue([text]));
    }
  });

  it('writes non-ASCII strings as UTF-8', async () => {
    const strings = ['é', 'item-Ω', 'Ünïcödé'.repeat(5), '😀'.repeat(40), 'a|b|ç'.repeat(30)];
    for (const text of strings) {
      expect(await decodedInRedis([text]), text).toBe(describeValue([text]));
    }
  });

  it('writes arrays and maps of every header size', async () => {
    const value = {
      small: [1, 'two', true],
      sixteen: Array.from({ length: 16 }, (_, index) => index),
      large: Array.from({ length: 70_000 }, (_, index) => index % 300),
      nested: { empty: [], inner: [[0.5, 'x'], [false]] },
    };
    expect(await decodedInRedis(value)).toBe(describeValue(value));
  });

  it('rejects values it cannot encode', () => {
    expect(() => encodeMessagePack([Number.NaN])).toThrow(/invalid number NaN/);
    expect(() => encodeMessagePack([Number.POSITIVE_INFINITY])).toThrow(/invalid number Infinity/);
    expect(() => encodeMessagePack([undefined as unknown as PackableValue])).toThrow(/invalid value undefined/);
    expect(() => encodeMessagePack([null as unknown as PackableValue])).toThrow(/invalid value null/);
  });
});

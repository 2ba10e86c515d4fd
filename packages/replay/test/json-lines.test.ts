import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines, type JsonLine } from '../src/sources/json-lines';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-json-lines-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function readAll(file: string): Promise<JsonLine[]> {
  const lines: JsonLine[] = [];
  for await (const line of readJsonLines(file, '--events')) {
    lines.push(line);
  }
  return lines;
}

describe('readJsonLines', () => {
  it('drops a leading byte order mark', async () => {
    const file = join(directory, 'bom.jsonl');
    await writeFile(file, '\ufeff{"a":1}\r\n{"b":2}\n');
    expect(await readAll(file)).toEqual([
      { line: 1, text: '{"a":1}' },
      { line: 2, text: '{"b":2}' },
    ]);
  });

  it('drops a byte order mark inside gzip', async () => {
    const file = join(directory, 'bom.jsonl.gz');
    await writeFile(file, gzipSync('\ufeff{"a":1}\n'));
    expect(await readAll(file)).toEqual([{ line: 1, text: '{"a":1}' }]);
  });

  it('rejects data after gzip zero padding', async () => {
    const file = join(directory, 'padded-then-data.jsonl.gz');
    await writeFile(file, Buffer.concat([gzipSync('{"a":1}\n'), Buffer.alloc(512), Buffer.from('{"b":2}\n')]));
    await expect(readAll(file)).rejects.toThrow(`--events file ${file} has trailing data at byte `);
  });

  it('rejects a member after gzip zero padding', async () => {
    const file = join(directory, 'padded-then-member.jsonl.gz');
    await writeFile(file, Buffer.concat([gzipSync('{"a":1}\n'), Buffer.alloc(512), gzipSync('{"b":2}\n')]));
    await expect(readAll(file)).rejects.toThrow('after the zero padding that follows its last gzip member');
  });

  it('explains trailing garbage after a gzip member', async () => {
    const file = join(directory, 'garbage.jsonl.gz');
    await writeFile(file, Buffer.concat([gzipSync('{"a":1}\n'), Buffer.from('garbage')]));
    await expect(readAll(file)).rejects.toThrow(`--events file ${file} could not be decompressed`);
    await expect(readAll(file)).rejects.toThrow('a gzip file must hold whole gzip members, followed by nothing or by zero bytes');
  });

  it('names no line of a gzip error, since the lines read lag behind', async () => {
    const file = join(directory, 'many-lines-then-garbage.jsonl.gz');
    const member = gzipSync(Array.from({ length: 5_000 }, (_, index) => `{"n":${index}}\n`).join(''));
    await writeFile(file, Buffer.concat([member, Buffer.from('garbage')]));
    await expect(readAll(file)).rejects.toThrow(`--events file ${file} could not be decompressed: incorrect header check; `);
  });

  it('keeps U+FEFF after the first line', async () => {
    const file = join(directory, 'later.jsonl');
    await writeFile(file, '{"a":1}\n\ufeff{"b":2}\n');
    const lines = await readAll(file);
    expect(lines[1]?.text).toBe('\ufeff{"b":2}');
  });
});

import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonlInput } from '../src/index';

const REPOSITORY = new URL('../../../', import.meta.url);
const replayDoc = readFileSync(new URL('docs/replay.md', REPOSITORY), 'utf8');

/** Returns the bodies of the page's fenced `jsonl` blocks, in page order. */
function jsonlBlocks(page: string): string[] {
  return [...page.matchAll(/```jsonl\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

describe('docs/replay.md', () => {
  it('has examples the JSON Lines source accepts', async () => {
    const [eventLines, catalogLines, ...rest] = jsonlBlocks(replayDoc);
    expect(rest).toHaveLength(0);
    const directory = await mkdtemp(join(tmpdir(), 'nexttap-replay-doc-'));
    const eventsFile = join(directory, 'events.jsonl');
    const catalogFile = join(directory, 'catalog.jsonl');
    await writeFile(eventsFile, eventLines ?? '');
    await writeFile(catalogFile, catalogLines ?? '');

    const input = await readJsonlInput([eventsFile], [catalogFile]);

    expect(input.rejected).toEqual({ count: 0, byCode: {} });
    expect(input.events).toHaveLength(3);
    expect(input.catalog).toHaveLength(2);
  });

  it('is linked from the README', () => {
    const readme = readFileSync(new URL('README.md', REPOSITORY), 'utf8');
    expect(readme).toContain('[docs/replay.md](docs/replay.md)');
  });
});

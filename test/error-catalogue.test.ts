import { readFileSync } from 'node:fs';
import { REJECTION_REASONS } from '@nexttap/events';
import { HTTP_ERRORS } from '@nexttap/http';
import { INGEST_ERRORS } from '@nexttap/ingest';
import { RANKER_ERRORS } from '@nexttap/ranker';
import { describe, expect, it } from 'vitest';

const document = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

/** Parses the rows of every markdown table whose first cell is a code in backticks. */
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of document.split('\n')) {
    const match = /^\| `([A-Z_]+)` \|(.*)\|$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      rows.set(match[1], match[2].split('|').map((cell) => cell.trim()));
    }
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = documentedRows();
  const catalogues = { ...RANKER_ERRORS, ...INGEST_ERRORS, ...HTTP_ERRORS };

  it('lists every service error with its status and description', () => {
    for (const [code, entry] of Object.entries(catalogues)) {
      expect(rows.get(code), `${code} is missing from docs/errors.md`).toEqual([String(entry.statusCode), entry.description]);
    }
  });

  it('lists every event rejection code', () => {
    for (const code of Object.values(REJECTION_REASONS)) {
      expect(rows.has(code), `${code} is missing from docs/errors.md`).toBe(true);
    }
  });

  it('lists no code the services lack', () => {
    const known = new Set<string>([...Object.keys(catalogues), ...Object.values(REJECTION_REASONS)]);
    for (const code of rows.keys()) {
      expect(known.has(code), `${code} is documented but not defined`).toBe(true);
    }
  });
});

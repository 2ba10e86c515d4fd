import { readFile } from 'node:fs/promises';

/** Error in a CSV file, with the message `file:line: problem` and lines counted from 1. */
export class CsvError extends Error {
  override readonly name = 'CsvError';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }
}

/** One record of a CSV file: its fields and the line on which the record starts. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** One data row of a file read with {@link readCsvFile}: values keyed by the header's column names. */
export interface CsvRow<Column extends string> {
  line: number;
  values: Record<Column, string>;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Parses CSV text as RFC 4180 defines it. Fields are separated by commas, and records end with CRLF
 * or LF. A field in double quotes may contain commas and line breaks, and `""` inside it is one `"`.
 * A leading UTF-8 byte order mark and the line break after the last record are skipped.
 *
 * @param file - the name used in error messages
 * @throws CsvError on an unterminated quoted field, text after a closing quote, a quote inside an
 *   unquoted field or a carriage return that is not followed by a line feed
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  forEachCsvRecord(text, file, (line, fields) => {
    records.push({ line, fields: fields.slice() });
  });
  return records;
}

/**
 * Calls `visit` with each record of CSV text, parsed as `parseCsv` parses it, and the line on which
 * the record starts. Every call gets the same `fields` array, refilled, so that a file of 100,000
 * rows allocates no array per row: copy it to keep it.
 *
 * @throws CsvError as `parseCsv` does
 */
export function forEachCsvRecord(text: string, file: string, visit: (line: number, fields: readonly string[]) => void): void {
  const fields: string[] = [];
  let position = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;

  while (position < text.length) {
    const recordLine = line;
    fields.length = 0;

    // Each pass reads one field and the comma or line break that ends it.
    for (;;) {
      let field: string;
      if (text.charCodeAt(position) === QUOTE) {
        const quotedStartLine = line;
        let value = '';
        let chunkStart = position + 1;
        position += 1;
        for (;;) {
          const next = text.indexOf('"', position);
          if (next === -1) {
            throw new CsvError(file, quotedStartLine, 'quoted field has no closing quote');
          }
          line += countLineFeeds(text, position, next);
          if (text.charCodeAt(next + 1) === QUOTE) {
            value += text.slice(chunkStart, next + 1);
            position = next + 2;
            chunkStart = position;
            continue;
          }
          value += text.slice(chunkStart, next);
          position = next + 1;
          break;
        }
        const after = text.charCodeAt(position);
        if (position < text.length && after !== COMMA && after !== CR && after !== LF) {
          throw new CsvError(file, line, `unexpected ${JSON.stringify(text[position])} after a closing quote; double a quote inside a quoted field`);
        }
        field = value;
      } else {
        const start = position;
        while (position < text.length) {
          const code = text.charCodeAt(position);
          if (code === COMMA || code === CR || code === LF) {
            break;
          }
          if (code === QUOTE) {
            throw new CsvError(file, line, 'quote inside an unquoted field; put the field in double quotes and double the quote');
          }
          position += 1;
        }
        field = text.slice(start, position);
      }
      fields.push(field);

      const separator = text.charCodeAt(position);
      if (separator === COMMA) {
        position += 1;
        continue;
      }
      if (separator === CR) {
        if (text.charCodeAt(position + 1) !== LF) {
          throw new CsvError(file, line, 'carriage return without a line feed; end lines with CRLF or LF');
        }
        position += 2;
        line += 1;
      } else if (separator === LF) {
        position += 1;
        line += 1;
      }
      // The end of the text ends the record as well.
      break;
    }
    visit(recordLine, fields);
  }
}

function countLineFeeds(text: string, from: number, to: number): number {
  let count = 0;
  for (let index = text.indexOf('\n', from); index !== -1 && index < to; index = text.indexOf('\n', index + 1)) {
    count += 1;
  }
  return count;
}

/**
 * Reads a UTF-8 CSV file whose first record is a header with exactly the given columns, in that
 * order, and returns the data rows. The whole file is read into memory, which suits files of a few
 * megabytes such as the MovieLens small dataset.
 *
 * @throws CsvError when the header differs from `columns`, a row has a different number of fields,
 *   or the text is not valid CSV
 */
export async function readCsvFile<Column extends string>(path: string, columns: readonly Column[]): Promise<CsvRow<Column>[]> {
  const rows: CsvRow<Column>[] = [];
  await forEachCsvRow(path, columns, (line, fields) => {
    const values = {} as Record<Column, string>;
    columns.forEach((column, position) => {
      values[column] = fields[position] as string;
    });
    rows.push({ line, values });
  });
  return rows;
}

/**
 * Reads a UTF-8 CSV file as `readCsvFile` does and calls `visit` with each data row's line and
 * fields, in the order of `columns`. The fields array is reused from row to row, so a caller that
 * turns each row into its own record allocates nothing else per row.
 *
 * @throws CsvError as `readCsvFile` does
 */
export async function forEachCsvRow(path: string, columns: readonly string[], visit: (line: number, fields: readonly string[]) => void): Promise<void> {
  let headerSeen = false;
  forEachCsvRecord(await readFile(path, 'utf8'), path, (line, fields) => {
    if (!headerSeen) {
      if (fields.length !== columns.length || fields.some((name, index) => name !== columns[index])) {
        throw new CsvError(path, line, `header is ${fields.join(',')}; expected ${columns.join(',')}`);
      }
      headerSeen = true;
      return;
    }
    if (fields.length !== columns.length) {
      throw new CsvError(path, line, `row has ${fields.length} fields; expected ${columns.length} (${columns.join(',')})`);
    }
    visit(line, fields);
  });
  if (!headerSeen) {
    throw new CsvError(path, 1, `file is empty; expected the header ${columns.join(',')}`);
  }
}

import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from '../errors';

/** The two bytes every gzip member starts with (RFC 1952, section 2.3.1). */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Bytes read at a time when checking what follows the last gzip member. */
const TAIL_CHUNK_BYTES = 64 * 1024;

/** U+FEFF, which some editors write at the start of a UTF-8 file. */
const BYTE_ORDER_MARK = 0xfeff;

/** One non-blank line of a JSON Lines file, with its 1-based line number. */
export interface JsonLine {
  line: number;
  text: string;
}

/**
 * Yields the non-blank lines of a JSON Lines file, without a byte order mark at the start. A file
 * that starts with the gzip magic bytes is decompressed on the fly, whatever its name. `label` names the file's role (such as `--events`)
 * in error messages. A gzip file may hold several members, which are read as one stream. It may
 * also end in zero bytes after the last member, because tape tools and some uploaders pad files.
 * gzip 1.12 accepts both.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` when the file cannot be opened or decompressed,
 * or has bytes other than zeros after its last gzip member
 */
export async function* readJsonLines(file: string, label: string): AsyncGenerator<JsonLine> {
  const gzipped = await startsWithGzipMagic(file, label);
  const raw = createReadStream(file);
  const gunzip = gzipped ? createGunzip() : undefined;
  const stream: Readable = gunzip === undefined ? raw : raw.pipe(gunzip);
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let failure: unknown;
  // A read or gunzip error ends the lines early; it is kept here and reported after the loop.
  const remember = (error: unknown) => {
    failure ??= error;
    lines.close();
  };
  raw.on('error', remember);
  stream.on('error', remember);
  let line = 0;
  try {
    for await (const read of lines) {
      line += 1;
      // Some editors save UTF-8 with a byte order mark, which JSON.parse rejects.
      const text = line === 1 && read.charCodeAt(0) === BYTE_ORDER_MARK ? read.slice(1) : read;
      if (text.trim() !== '') {
        yield { line, text };
      }
    }
  } catch (error) {
    failure ??= error;
  } finally {
    raw.destroy();
  }
  if (failure !== undefined) {
    // A gzip error names no line, because readline drops the decompressed lines it still held when
    // the error came, so the count of lines read would point too early.
    const where = gzipped ? 'could not be decompressed' : `could not be read after line ${line}`;
    const fix = gzipped ? '; a gzip file must hold whole gzip members, followed by nothing or by zero bytes, so compress it again' : '';
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${label} file ${file} ${where}: ${describeError(failure)}${fix}`, {
      cause: failure,
    });
  }
  if (gunzip !== undefined) {
    await checkZeroPadding(file, label, gunzip);
  }
}

/**
 * Checks that only zero bytes follow the last gzip member. Node's gunzip (checked on Node 20.20)
 * decompresses members until the input ends or a member is followed by a zero byte. It ignores
 * the rest of the file without an error, so bytes after zero padding would be lost silently. Its
 * `bytesWritten` counts the input bytes that the members took up.
 */
async function checkZeroPadding(file: string, label: string, gunzip: Gunzip): Promise<void> {
  const offset = await findNonZeroByte(file, label, gunzip.bytesWritten);
  if (offset !== undefined) {
    throw new ReplayError(
      REPLAY_ERROR_CODES.unreadableInput,
      `${label} file ${file} has trailing data at byte ${offset}, after the zero padding that follows its last gzip member; remove those bytes or compress the file again`,
    );
  }
}

/** Returns the offset of the first byte from `start` on that is not zero, or undefined when there is none. */
async function findNonZeroByte(file: string, label: string, start: number): Promise<number | undefined> {
  const handle = await openInput(file, label);
  try {
    const chunk = Buffer.alloc(TAIL_CHUNK_BYTES);
    for (let position = start; ; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) {
        return undefined;
      }
      const index = chunk.subarray(0, bytesRead).findIndex((byte) => byte !== 0);
      if (index !== -1) {
        return position + index;
      }
      position += bytesRead;
    }
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${label} file ${file} could not be read: ${describeError(error)}`, { cause: error });
  } finally {
    await handle.close();
  }
}

/** Opens an input file for reading; a failure is a ReplayError that names the file. */
async function openInput(file: string, label: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${label} file ${file} could not be opened: ${describeError(error)}`, { cause: error });
  }
}

async function startsWithGzipMagic(file: string, label: string): Promise<boolean> {
  const handle = await openInput(file, label);
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${label} file ${file} could not be read: ${describeError(error)}`, { cause: error });
  } finally {
    await handle.close();
  }
}

/**
 * The per-item inputs of the feature kernels for the rows of one feature matrix, one typed array
 * per input, so that a kernel loops over arrays instead of reading a snapshot object per row.
 * Decayed values are those of the rows' `ItemSnapshot`s, bit for bit. A value is 0 or 1 for a
 * flag, and NaN where the item lacks the input. The arrays may be longer than `rows`, when the
 * columns are reused, and entries past `rows` are left from an earlier use.
 */
export interface ItemColumns {
  rows: number;
  /** Decayed engagements at the 1-hour, 1-day and 7-day half-lives (`positiveShort`, `positiveDay`, `positiveLong`). */
  positiveHour: Float64Array;
  positiveDay: Float64Array;
  positiveWeek: Float64Array;
  /** Day-half-life counts by interaction type, and of every interaction but impressions. */
  impressions: Float64Array;
  taps: Float64Array;
  plays: Float64Array;
  completes: Float64Array;
  likes: Float64Array;
  skips: Float64Array;
  hides: Float64Array;
  interactions: Float64Array;
  /** Day-half-life sums of dwell events and of their dwell in seconds. */
  dwellCount: Float64Array;
  dwellSeconds: Float64Array;
  covisitScore: Float64Array;
  seenInSession: Float64Array;
  tapRatePrior: Float64Array;
  completionRatePrior: Float64Array;
  /** `publishedAt` in epoch ms; NaN without a catalog record or a date. */
  publishedAtMs: Float64Array;
  hasPublishedAt: Float64Array;
  live: Float64Array;
  /** Categories of the catalog record, NaN without a record. */
  categoryCount: Float64Array;
  /**
   * Category numbers of row r at `categoryNumbers[categoryStarts[r]]` up to
   * `categoryStarts[r + 1]`, in the record's order, repeats kept.
   */
  categoryStarts: Int32Array;
  categoryNumbers: Int32Array;
  /** Creator of each row's catalog record, undefined without one. */
  creatorIds: Array<string | undefined>;
}

/** Numeric inputs of `ItemColumns`: every field but `rows` and the category and creator arrays. */
const NUMERIC_COLUMN_COUNT = 21;

/**
 * Allocates the columns of `rows` items, with room for `categoryCapacity` category numbers. The
 * numeric columns are views of one buffer, so the columns allocate one block for them.
 */
export function allocateItemColumns(rows: number, categoryCapacity: number): ItemColumns {
  const buffer = new ArrayBuffer(rows * NUMERIC_COLUMN_COUNT * Float64Array.BYTES_PER_ELEMENT);
  let next = 0;
  const column = (): Float64Array => new Float64Array(buffer, rows * Float64Array.BYTES_PER_ELEMENT * next++, rows);
  // An object literal, so that every columns object has one shape and the kernels stay monomorphic.
  return {
    rows,
    positiveHour: column(),
    positiveDay: column(),
    positiveWeek: column(),
    impressions: column(),
    taps: column(),
    plays: column(),
    completes: column(),
    likes: column(),
    skips: column(),
    hides: column(),
    interactions: column(),
    dwellCount: column(),
    dwellSeconds: column(),
    covisitScore: column(),
    seenInSession: column(),
    tapRatePrior: column(),
    completionRatePrior: column(),
    publishedAtMs: column(),
    hasPublishedAt: column(),
    live: column(),
    categoryCount: column(),
    categoryStarts: new Int32Array(rows + 1),
    categoryNumbers: new Int32Array(categoryCapacity),
    creatorIds: new Array<string | undefined>(rows),
  };
}

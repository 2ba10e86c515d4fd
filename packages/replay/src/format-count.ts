/**
 * Formats a count with its noun, singular for exactly 1: `formatCount(1, 'point')` is "1 point",
 * `formatCount(7876, 'point')` is "7,876 points". Pass `plural` for a noun that does not add an s.
 */
export function formatCount(count: number, singular: string, plural = `${singular}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? singular : plural}`;
}

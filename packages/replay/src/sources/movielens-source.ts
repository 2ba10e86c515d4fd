import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from '../errors';
import type { ReplayInput } from './replay-input';

/**
 * Reads the MovieLens catalog and ratings through `@nexttap/movielens`, the importer the embedded
 * server seeds from. `limit` keeps the earliest ratings only, for quick runs and tests.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` naming the folder when a file is missing or malformed
 */
export async function readMovieLensInput(directory: string, limit?: number): Promise<ReplayInput> {
  try {
    const catalog = await readMovieLensCatalog(directory);
    const events = await readMovieLensEvents(directory, limit === undefined ? {} : { limit });
    return {
      source: { kind: 'movielens', directory, ...(limit === undefined ? {} : { limit }) },
      catalog,
      events,
      rejected: { count: 0, byCode: {} },
    };
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `MovieLens folder ${directory} could not be read: ${describeError(error)}`, {
      cause: error,
    });
  }
}

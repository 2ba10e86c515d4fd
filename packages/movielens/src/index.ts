export { CsvError, parseCsv, readCsvFile, type CsvRecord, type CsvRow } from './csv';
export {
  DEFAULT_SESSION_GAP_MS,
  MOVIES_FILE,
  RATINGS_FILE,
  parseReleaseYear,
  ratingToInteractionType,
  readMovieLensCatalog,
  readMovieLensEvents,
  secondsToMilliseconds,
  summariseMovieLens,
  type MovieLensEventOptions,
  type MovieLensSummary,
  type RatingInteractionType,
} from './importer';

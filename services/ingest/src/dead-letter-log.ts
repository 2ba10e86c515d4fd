import type { DeliveredRecord } from '@nexttap/bus';
import type { Rejection } from '@nexttap/events';
import type { Logger } from '@nexttap/observability';

/** Minimum time between two `records dead-lettered` lines of one process, in ms. */
export const DEAD_LETTER_LOG_INTERVAL_MS = 10_000;

/** One dead-lettered record, as the log line shows it. */
interface DeadLetterExample {
  topic: string;
  partition: number;
  offset: string;
  code: string;
  message: string;
}

/**
 * Logs dead-lettered records at warn, at most one line per `DEAD_LETTER_LOG_INTERVAL_MS`, so that a
 * stream of invalid events shows in the log without a line per record. Each line counts the records
 * of each reason code since the line before and shows the first of them. Records left out by the
 * limit are logged by a timer at the end of the interval, which does not keep the process alive.
 */
export class DeadLetterLog {
  private countsByCode = new Map<string, number>();
  private example: DeadLetterExample | undefined;
  private lastLineMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = DEAD_LETTER_LOG_INTERVAL_MS,
  ) {}

  /** Counts records that the bus acknowledged on the dead-letter topic, and logs them unless a line was written within the interval. */
  record(rejected: readonly { record: DeliveredRecord; rejection: Rejection }[]): void {
    for (const { record, rejection } of rejected) {
      this.countsByCode.set(rejection.code, (this.countsByCode.get(rejection.code) ?? 0) + 1);
      this.example ??= { topic: record.topic, partition: record.partition, offset: record.offset, code: rejection.code, message: rejection.message };
    }
    if (this.example === undefined || this.timer !== undefined) {
      return;
    }
    const waitMs = this.lastLineMs + this.intervalMs - performance.now();
    if (waitMs <= 0) {
      this.writeLine();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeLine();
    }, waitMs);
    this.timer.unref();
  }

  private writeLine(): void {
    if (this.example === undefined) {
      return;
    }
    this.logger.warn({ countsByCode: Object.fromEntries(this.countsByCode), example: this.example }, 'records dead-lettered');
    this.countsByCode = new Map();
    this.example = undefined;
    this.lastLineMs = performance.now();
  }
}

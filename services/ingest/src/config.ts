import { MAX_TOPIC_PREFIX_LENGTH, topicPrefixProblem } from '@nexttap/bus';
import { numberSettingSchema } from '@nexttap/http';
import { z } from 'zod';

/** Settings of the ingest role, parsed once from the environment. Defaults live here and nowhere else. */
export const ingestConfigSchema = z.object({
  consumerGroupId: z.string().min(1).default('nexttap-ingest')
    .describe('Consumer group of the ingest instances; all instances of one deployment share it.'),
  topicPrefix: z.string().default('')
    .superRefine((prefix, context) => {
      const problem = topicPrefixProblem(prefix);
      if (problem !== undefined) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      }
    })
    .describe(
      'Prefix of the topic names, for several deployments on one cluster: `<prefix>.interactions` and so on. ' +
        `At most ${MAX_TOPIC_PREFIX_LENGTH} characters from a-z, A-Z, 0-9, \`.\`, \`_\` and \`-\`, the characters Kafka allows in topic names.`,
    ),
  maxFutureSkewMs: numberSettingSchema({ min: 0, max: 86_400_000, default: 300_000, unit: 'milliseconds' })
    .describe('How far ahead of the ingest clock an event time may be, in ms, to allow for client clock skew.'),
  maxEventLatenessMs: numberSettingSchema({ min: 0, max: 3_200_000_000_000, default: 86_400_000, unit: 'milliseconds' })
    .describe('How far behind the ingest clock an event time may be, in ms; older events are dead-lettered as EVENT_TOO_LATE. Exactly-once holds only up to the 1-day eventId de-duplication window, so raise it only to load history once.'),
  maxApplyCalls: numberSettingSchema({ min: 1, max: 64, default: 2 })
    .describe('Max feature store apply calls of ingest running at once. The interaction batches handed over in one event-loop turn share a call, and those that arrive while this many run share the next one.'),
  collectorBodyLimitBytes: numberSettingSchema({ min: 1_024, max: 52_428_800, default: 4_194_304, unit: 'bytes' })
    .describe('Largest accepted request body of the collector, in bytes.'),
});

export type IngestConfig = Readonly<z.infer<typeof ingestConfigSchema>>;

/** Environment variable of each setting. */
export const INGEST_ENVIRONMENT: Record<keyof IngestConfig, string> = {
  consumerGroupId: 'INGEST_CONSUMER_GROUP',
  topicPrefix: 'TOPIC_PREFIX',
  maxFutureSkewMs: 'MAX_FUTURE_SKEW_MS',
  maxEventLatenessMs: 'MAX_EVENT_LATENESS_MS',
  maxApplyCalls: 'INGEST_MAX_APPLY_CALLS',
  collectorBodyLimitBytes: 'COLLECTOR_BODY_LIMIT_BYTES',
};

/** Events accepted in one collector request. */
export const MAX_EVENTS_PER_REQUEST = 500;

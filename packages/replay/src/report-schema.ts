import { z } from 'zod';

/**
 * The replay report, `report.json`. The schema is versioned: a change that renames, removes or
 * re-types a field bumps `REPORT_SCHEMA_VERSION`, and `--compare` rejects versions it does not know.
 * A report holds no wall-clock times, so two runs with the same input and seed write the same bytes;
 * latencies and durations go to `timings.json`.
 */
export const REPORT_SCHEMA = 'nexttap.replay.report';
export const REPORT_SCHEMA_VERSION = 1;

/** A metric over evaluation points with its bootstrap interval; null where undefined (no points). */
export const intervalSchema = z.object({ value: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() }).strict();

/** Values by K, keyed by the K as a decimal string. */
const byKSchema = z.record(z.string().regex(/^\d+$/), intervalSchema);

const rankerSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['model', 'baseline']),
    /** For a model: its manifest name, version and training cut-off. */
    model: z.object({ name: z.string(), version: z.string(), trainingCutoffMs: z.number().nullable() }).strict().optional(),
    metrics: z
      .object({
        hitRate: byKSchema,
        ndcg: byKSchema,
        mrr: intervalSchema,
        coverage: byKSchema,
        novelty: byKSchema,
        diversity: byKSchema,
      })
      .strict(),
  })
  .strict();

const offPolicySchema = z.discriminatedUnion('applicable', [
  z.object({ applicable: z.literal(false), reason: z.string() }).strict(),
  z
    .object({
      applicable: z.literal(true),
      loggedFeeds: z.number().int(),
      impressions: z.number().int(),
      /** Taps per impression of the logging policy, as logged. */
      loggedTapThroughRate: z.number(),
      estimates: z.array(
        z
          .object({
            ranker: z.string(),
            ips: intervalSchema,
            snips: intervalSchema,
            /** (Σw)² / Σw²: how many impressions the weighted estimate is worth. */
            effectiveSampleSize: z.number(),
            /** Logged impressions the ranker's feed would also have shown (weight above zero). */
            matchedImpressions: z.number().int(),
          })
          .strict(),
      ),
    })
    .strict(),
]);

export const replayReportSchema = z
  .object({
    schema: z.literal(REPORT_SCHEMA),
    schemaVersion: z.number().int(),
    settings: z
      .object({
        protocol: z.enum(['full', 'sampled']),
        /** Sampled negatives per target; null for the full protocol. */
        negatives: z.number().int().nullable(),
        seed: z.number().int(),
        ks: z.array(z.number().int().positive()),
        targetTypes: z.array(z.string()),
        poolRefreshEvents: z.number().int(),
        bootstrap: z.object({ resamples: z.number().int(), level: z.number() }).strict(),
        /**
         * Feature store the replay ran on. The memory store expires keys on the replay's event clock,
         * Redis on its own wall clock, so the two give different results for one log. Absent in
         * reports of earlier versions and when a caller passes its own store without naming it.
         */
        store: z.enum(['memory', 'redis']).optional(),
      })
      .strict(),
    source: z.record(z.unknown()),
    window: z
      .object({
        /** Events at or after this time (epoch ms) are evaluated; earlier ones only warm the features. */
        evaluateFromMs: z.number().nullable(),
        evaluateFrom: z.string().nullable(),
        /** What set `evaluateFromMs`: a model's training cut-off, the `cutoffMs` option, or nothing. */
        cutoffSource: z.string(),
        firstEventMs: z.number().nullable(),
        lastEventMs: z.number().nullable(),
      })
      .strict(),
    counts: z
      .object({
        events: z.number().int(),
        rejectedRecords: z.number().int(),
        duplicateEvents: z.number().int(),
        catalogItems: z.number().int(),
        catalogItemsApplied: z.number().int(),
        targetEventsInWindow: z.number().int(),
        evaluationPoints: z.number().int(),
        /** Target events left out: the first event of a session, and items the session or user already engaged with. */
        skippedFirstInSession: z.number().int(),
        skippedAlreadyEngaged: z.number().int(),
        /**
         * Events, duplicates included, whose item has no catalog record, and the evaluation points
         * among them. Such events update the features like any other, but the full protocol drops
         * items without a catalog record from the candidates, as the ranker service does, so each
         * of those points is a miss for every ranker. Absent in reports of earlier versions.
         */
        eventsWithoutCatalogRecord: z.number().int().optional(),
        pointsWithoutCatalogRecord: z.number().int().optional(),
      })
      .strict(),
    candidates: z
      .object({
        meanCount: z.number().nullable(),
        /**
         * Sampled protocol only: the mean number of negatives ranked with the target. It is below
         * `settings.negatives` when fewer items were known, at a target's time, that its session and
         * user had not engaged with. Absent under the full protocol and in reports of earlier versions.
         */
        meanNegatives: z.number().nullable().optional(),
        /** Share of points whose target was among the ranked items; no ranker can do better than this HitRate. */
        targetRetrievedRate: intervalSchema,
      })
      .strict(),
    rankers: z.array(rankerSchema),
    overTime: z
      .object({
        k: z.number().int(),
        buckets: z.array(
          z.object({ fromMs: z.number(), toMs: z.number(), points: z.number().int(), hitRate: z.record(z.number().nullable()) }).strict(),
        ),
      })
      .strict(),
    offPolicy: offPolicySchema,
    rejected: z
      .object({
        count: z.number().int(),
        byCode: z.record(z.number().int()),
        first: z.object({ location: z.string(), code: z.string(), message: z.string() }).strict().optional(),
        /** The first `listLimit` rejected records in reading order, each with its location, code and field. */
        records: z.array(z.object({ location: z.string(), code: z.string(), field: z.string().optional(), message: z.string() }).strict()).optional(),
        listLimit: z.number().int().optional(),
      })
      .strict(),
    /** Per evaluation point, for paired comparisons: `sessionId` TAB `eventId`, and each ranker's rank of the target (0 when absent). */
    evaluations: z.object({ keys: z.array(z.string()), ranks: z.record(z.array(z.number().int())) }).strict(),
  })
  .strict();

export type ReplayReport = z.infer<typeof replayReportSchema>;
export type IntervalValue = z.infer<typeof intervalSchema>;
export type RankerReport = z.infer<typeof rankerSchema>;
export type OffPolicyReport = z.infer<typeof offPolicySchema>;

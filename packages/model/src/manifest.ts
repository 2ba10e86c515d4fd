import { z } from 'zod';

/** Name or version segment of a model path: letters, digits, dots, dashes and underscores. */
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The manifest next to every `model.onnx`: what the model reads, what it returns and how it was made. */
export const manifestSchema = z
  .object({
    name: z.string().regex(PATH_SEGMENT, 'name must be 1-64 letters, digits, dots, dashes or underscores'),
    version: z.string().regex(PATH_SEGMENT, 'version must be 1-64 letters, digits, dots, dashes or underscores'),
    featureSchemaVersion: z.number().int().positive(),
    /** Feature names in the column order of the input tensor, from the feature registry. */
    features: z.array(z.string().min(1)).min(1, 'features must list at least one feature'),
    input: z.object({ name: z.string().min(1) }).strict(),
    output: z.object({ name: z.string().min(1) }).strict(),
    createdAt: z.string().datetime({ offset: true }),
    training: z
      .object({
        dataset: z.string(),
        description: z.string(),
        /** Events at or after this time (epoch ms) were not used for training. */
        cutoffMs: z.number().int().optional(),
        examples: z.number().int().nonnegative().optional(),
      })
      .passthrough(),
    /** Offline metrics measured on held-out data, by name. */
    metrics: z.record(z.number()),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;

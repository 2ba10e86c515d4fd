import { FEATURE_REGISTRY, FEATURE_SCHEMA_VERSION } from '@nexttap/features';
import { z } from 'zod';
import { ENVIRONMENT_TABLES } from './process-config';

/** Reads the description and the default of one config field, through zod's wrappers. */
function describeField(schema: z.ZodTypeAny): { description: string; defaultValue: unknown } {
  let current: z.ZodTypeAny | undefined = schema;
  let description = schema.description ?? '';
  let defaultValue: unknown;
  while (current !== undefined) {
    description ||= current.description ?? '';
    if (current instanceof z.ZodDefault) {
      defaultValue = current._def.defaultValue();
    }
    const definition = current._def as { innerType?: z.ZodTypeAny; schema?: z.ZodTypeAny };
    current = definition.innerType ?? definition.schema;
  }
  return { description, defaultValue };
}

/** Renders the configuration reference: every environment variable with its default and meaning. */
export function renderConfigurationDoc(): string {
  const rows = ENVIRONMENT_TABLES.flatMap(({ schema, environment }) =>
    Object.entries(schema.shape as Record<string, z.ZodTypeAny>).map(([key, field]) => {
      const { description, defaultValue } = describeField(field);
      const shown = defaultValue === '' ? '(empty)' : `\`${String(defaultValue)}\``;
      return `| \`${(environment as Record<string, string>)[key]}\` | ${shown} | ${description} |`;
    }),
  );
  return [
    '# Configuration',
    '',
    'Every setting is an environment variable, parsed once at start; an invalid value stops the',
    'process with a message naming the variable. This page is generated from the schemas by',
    '`npm run docs`, and a test fails when it differs from them.',
    '',
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Renders the feature reference from the feature registry. */
export function renderFeaturesDoc(): string {
  const rows = FEATURE_REGISTRY.map((feature) => `| \`${feature.name}\` | ${feature.type} | ${feature.defaultValue} | ${feature.description} |`);
  return [
    '# Features',
    '',
    `Features a ranking model may list in its manifest, at feature schema version ${FEATURE_SCHEMA_VERSION}. The default`,
    'replaces a value whose inputs are missing (an unknown item, an anonymous user) or that is not',
    'finite. This page is generated from the feature registry by `npm run docs`, and a test fails when',
    'it differs from the registry.',
    '',
    '| name | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

import { EPOCH_SECONDS_LIMIT, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, parseTimestamp } from '@nexttap/events';
import { buildCollectorOpenApi } from '@nexttap/ingest';
import { describe, expect, it } from 'vitest';

interface TimeForm {
  type: string;
  minimum?: number;
  maximum?: number;
  description: string;
}

/** Returns the forms of a time field of an entry schema in the collector's OpenAPI document. */
function timeForms(schema: 'Interaction' | 'CatalogItem', field: string): TimeForm[] {
  const schemas = buildCollectorOpenApi().schemas as Record<string, { properties: Record<string, { oneOf: TimeForm[] }> }>;
  return schemas[schema]?.properties[field]?.oneOf ?? [];
}

describe('collector OpenAPI time fields', () => {
  it('leave the epoch seconds range out of publishedAt', () => {
    const forms = timeForms('CatalogItem', 'publishedAt');
    expect(forms.map((form) => [form.type, form.minimum, form.maximum])).toEqual([
      ['integer', MIN_TIMESTAMP_MS, -1],
      ['integer', EPOCH_SECONDS_LIMIT, MAX_TIMESTAMP_MS],
      ['string', undefined, undefined],
    ]);
    expect(forms[2]?.description).toContain('from 1800-01-01T00:00:00Z to 2100-01-01T00:00:00Z');
  });

  it('give ts one integer range from 1973', () => {
    const forms = timeForms('Interaction', 'ts');
    expect(forms.map((form) => [form.type, form.minimum, form.maximum])).toEqual([
      ['integer', EPOCH_SECONDS_LIMIT, MAX_TIMESTAMP_MS],
      ['string', undefined, undefined],
    ]);
  });

  it('match what the service accepts at each integer bound', () => {
    for (const [schema, field, minMs] of [['Interaction', 'ts', EPOCH_SECONDS_LIMIT], ['CatalogItem', 'publishedAt', MIN_TIMESTAMP_MS]] as const) {
      const integerForms = timeForms(schema, field).filter((form) => form.type === 'integer');
      const inSomeForm = (ms: number) => integerForms.some((form) => ms >= (form.minimum ?? -Infinity) && ms <= (form.maximum ?? Infinity));
      for (const form of integerForms) {
        for (const ms of [form.minimum ?? 0, form.maximum ?? 0, (form.minimum ?? 0) - 1, (form.maximum ?? 0) + 1]) {
          expect(parseTimestamp(ms, minMs).ok, `${field} ${ms}`).toBe(inSomeForm(ms));
        }
      }
      expect(parseTimestamp(0, minMs).ok).toBe(inSomeForm(0));
    }
  });
});

import { readFileSync } from 'node:fs';
import { ENVIRONMENT_TABLES, renderConfigurationDoc, withFeatureTable } from '@nexttap/cli';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

const read = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

describe('generated reference docs', () => {
  it('match the configuration schemas', () => {
    expect(read('configuration.md'), 'run npm run docs').toBe(renderConfigurationDoc());
  });

  it('give the range of a numeric variable', () => {
    const page = read('configuration.md');
    expect(page).toContain('| `SHUTDOWN_TIMEOUT_MS` | `35000` | `100` to `120000` |');
    expect(page).toContain('| `COLLECTOR_BODY_LIMIT_BYTES` | `4194304` | `1024` to `52428800` |');
    expect(page).toContain('| `EXPLORATION_POSITION` | `3` | `-1` to `99` |');
    expect(page).toContain('| `HOST` | `127.0.0.1` |  |');
  });

  it('give a range for every numeric variable', () => {
    const page = read('configuration.md');
    for (const { schema, environment } of ENVIRONMENT_TABLES) {
      for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
        const parsed = field.safeParse(undefined);
        if (parsed.success && typeof parsed.data === 'number') {
          const name = (environment as Record<string, string>)[key] as string;
          expect(page, name).toMatch(new RegExp(`\\| \`${name}\` \\| \`[0-9]+\` \\| \`-?[0-9]+\` to \`[0-9]+\` \\|`));
        }
      }
    }
  });

  it('match the feature registry', () => {
    const page = read('features.md');
    expect(page, 'run npm run docs').toBe(withFeatureTable(page));
  });
});

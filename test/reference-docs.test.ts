import { readFileSync } from 'node:fs';
import { renderConfigurationDoc, withFeatureTable } from '@nexttap/cli';
import { describe, expect, it } from 'vitest';

const read = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

describe('generated reference docs', () => {
  it('match the configuration schemas', () => {
    expect(read('configuration.md'), 'run npm run docs').toBe(renderConfigurationDoc());
  });

  it('match the feature registry', () => {
    const page = read('features.md');
    expect(page, 'run npm run docs').toBe(withFeatureTable(page));
  });
});

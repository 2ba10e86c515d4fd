import { readFileSync } from 'node:fs';
import { renderConfigurationDoc, renderFeaturesDoc } from '@nexttap/cli';
import { describe, expect, it } from 'vitest';

const read = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

describe('generated reference docs', () => {
  it('match the configuration schemas', () => {
    expect(read('configuration.md'), 'run npm run docs').toBe(renderConfigurationDoc());
  });

  it('match the feature registry', () => {
    expect(read('features.md'), 'run npm run docs').toBe(renderFeaturesDoc());
  });
});

// Writes the generated reference pages: docs/configuration.md and docs/features.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigurationDoc, withFeatureTable } from '@nexttap/cli';

const featuresPage = new URL('../docs/features.md', import.meta.url);
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigurationDoc());
writeFileSync(featuresPage, withFeatureTable(readFileSync(featuresPage, 'utf8')));

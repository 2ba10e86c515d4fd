// Writes the generated reference pages: docs/configuration.md and docs/features.md.
import { writeFileSync } from 'node:fs';
import { renderConfigurationDoc, renderFeaturesDoc } from '@nexttap/cli';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigurationDoc());
writeFileSync(new URL('../docs/features.md', import.meta.url), renderFeaturesDoc());

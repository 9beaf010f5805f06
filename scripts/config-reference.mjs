#!/usr/bin/env node
// Regenerates docs/configuration.md: `npm run build && node scripts/config-reference.mjs > docs/configuration.md`.
import { configurationReference } from '../dist/src/cli/config-reference.js';

process.stdout.write(await configurationReference());

import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { configurationReference } from '../../../src/cli/config-reference.js';

describe('docs/configuration.md', () => {
  it('lists every option of every command with its environment variable and default', async () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    // When this fails: npm run build && node scripts/config-reference.mjs > docs/configuration.md
    expect(doc).toBe(await configurationReference());
  });

  it('names the ecosystem environment variables users already set', async () => {
    const ref = await configurationReference();
    for (const env of ['CONSUL_HTTP_ADDR', 'CONSUL_HTTP_TOKEN', 'DOCKER_HOST']) expect(ref).toContain(`\`${env}\``);
    expect(ref).toMatch(/## `switchyard run`/);
    expect(ref).toMatch(/## `switchyard switch <color>`/);
  });
});

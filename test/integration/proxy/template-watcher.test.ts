import { afterEach, describe, expect, it } from '@jest/globals';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/log/logger.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { TemplateWatcher } from '../../../src/render/template-watcher.js';
import { tempDir, waitFor } from './proxy-fixtures.js';

/** Real files and a real chokidar watcher: an edit re-renders, a broken edit keeps the last good template. */
describe('TemplateWatcher', () => {
  const tmp = tempDir('sy-tpl-');
  let watcher: TemplateWatcher | undefined;
  afterEach(async () => {
    await watcher?.close();
    tmp.remove();
  });

  it('recompiles on edit and on rename-over-save, and keeps the last good template on a broken edit', async () => {
    const file = path.join(tmp.dir, 'proxy.conf.eta');
    writeFileSync(file, 'version 1 <%= it.services.length %>\n');
    const stream = new PassThrough();
    let logs = '';
    stream.on('data', (b: Buffer) => (logs += b.toString()));
    const logger = createLogger({ stream, json: true });
    const renderer = new EtaTemplateRenderer({ templatePath: file, logger });
    const changes: string[] = [];
    watcher = new TemplateWatcher({ template: renderer, onChange: (r) => changes.push(r), logger });
    await watcher.start();
    const empty = { services: [] };
    expect(renderer.render(empty)).toBe('version 1 0\n');

    writeFileSync(file, 'version 2\n');
    await waitFor('the edit to be picked up', () => renderer.render(empty) === 'version 2\n', 5000);
    expect(changes).toEqual(['template proxy.conf.eta edited']);

    // An editor's save: write a new file, rename it over the template.
    writeFileSync(path.join(tmp.dir, 'proxy.conf.eta.swp'), 'version 3\n');
    renameSync(path.join(tmp.dir, 'proxy.conf.eta.swp'), file);
    await waitFor('the rename to be picked up', () => renderer.render(empty) === 'version 3\n', 5000);

    writeFileSync(file, 'line one\n<% if (it.services.length { %>\n');
    await waitFor(
      'the broken edit to be logged',
      () => logs.includes('still rendering with the last good template'),
      5000,
    );
    expect(logs).toMatch(/proxy\.conf\.eta line 2: does not compile/);
    expect(renderer.render(empty)).toBe('version 3\n');
    const before = changes.length;

    // Unrelated files in the folder do not trigger anything.
    writeFileSync(path.join(tmp.dir, 'notes.txt'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(changes.length).toBe(before);
  }, 20_000);
});

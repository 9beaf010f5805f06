import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

/**
 * The exit path the daemon takes when it must exit now (a second SIGTERM, or something still holding
 * the event loop after a clean stop): a real process, stdout a real pipe whose reader is slow, and
 * a burst of lines logged right before the exit. process.exit() alone drops the tail of the burst
 * (measured: ~200 of 1,000 lines arrive); exitAfterLogs must deliver every one.
 */
const LOGGER = path.resolve('dist/src/log/logger.js');
let dir: string;

beforeAll(() => {
  if (!existsSync(LOGGER)) throw new Error(`${LOGGER} is missing: run npm run build before the integration tests`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'sy-exit-flush-'));
  writeFileSync(
    path.join(dir, 'burst.mjs'),
    [
      `import { createLogger, exitAfterLogs } from ${JSON.stringify(LOGGER)};`,
      `const logger = createLogger({ json: true });`,
      `for (let i = 0; i < 1000; i++) logger.info('line ' + i + ' ' + 'x'.repeat(200));`,
      `logger.info('the last line');`,
      `await exitAfterLogs(logger, 3, 10_000);`,
    ].join('\n'),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exitAfterLogs', () => {
  it('every line of a burst logged right before process.exit reaches a slow reader', async () => {
    const child = spawn(process.execPath, [path.join(dir, 'burst.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Do not read for a while: the pipe fills (64 KiB) and stdout has to buffer the rest.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 500));
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(code).toBe(3);
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1001);
    expect(JSON.parse(lines[1000]!)).toMatchObject({ level: 'info', message: 'the last line' });
  }, 30_000);
});

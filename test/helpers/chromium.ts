import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './components.js';

const run = promisify(execFile);

/** Debian's chromium, headless, with a throwaway profile; the page gets `budgetMs` of time to run its script. */
async function chromium(args: string[], url: string, budgetMs: number): Promise<string> {
  const bin = requireBinary('chromium', 'SWITCHYARD_CHROMIUM_BIN');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'sy-chromium-'));
  try {
    const { stdout } = await run(
      bin,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-extensions',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        `--virtual-time-budget=${budgetMs}`,
        ...args,
        url,
      ],
      { timeout: 60_000, maxBuffer: 16 << 20 },
    );
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM after the page's script ran (`--dump-dom`). */
export function dumpDom(url: string, budgetMs = 3000): Promise<string> {
  return chromium(['--dump-dom'], url, budgetMs);
}

/** A PNG screenshot of the page at `width`×`height`. */
export async function screenshot(
  url: string,
  file: string,
  width = 1100,
  height = 1400,
  budgetMs = 3000,
): Promise<void> {
  await chromium([`--screenshot=${file}`, `--window-size=${width},${height}`, '--hide-scrollbars'], url, budgetMs);
}

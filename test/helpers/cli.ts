import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built CLI, dist/src/cli/main.js: tests and benchmarks run it the way a user does
 * (`npm run build` first). Found from this module, whether it runs from the sources (jest:
 * test/helpers) or from the build (a benchmark: dist/test/helpers).
 */
const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = here.split(path.sep).includes('dist')
  ? path.resolve(here, '../../src/cli/main.js')
  : path.resolve(here, '../../dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" first`);
}

/** Runs `switchyard <args>` to completion (bounded by timeoutMs, then SIGKILL). */
export function switchyard(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SWITCHYARD_LOG_FORMAT: 'text', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

#!/usr/bin/env -S node --max-semi-space-size=1
// A 1 MB young generation (V8's default grows to 16 MB per semi-space) takes ~10 MB off the daemon's
// resident memory at no measured CPU cost (docs/performance.md, bench/daemon-cost.ts).
import { readFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { Command, CommanderError } from 'commander';
import { ConfigError, errorMessage } from '../errors.js';
import { commandToLoad, registerCommands } from './commands/index.js';

// Before the subcommand's modules load: V8 keeps their compiled code on disk (NODE_COMPILE_CACHE, else
// the OS temp dir), which takes a fifth to a third off a control command's start (docs/performance.md).
// Best effort: a read-only or missing folder only means no cache.
try {
  nodeModule.enableCompileCache?.();
} catch {
  // no writable folder: start without a cache
}

/** Exit codes: 0 success, 1 a failed operation, 2 bad usage or configuration. */
export const EXIT_USAGE = 2;

/** The package's own version, read where the built file sits (dist/src/cli → package root). */
function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'switchyard' && pkg.version) return pkg.version;
    } catch {
      // not at this depth (running from src/ under a test runner, or from dist/)
    }
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('switchyard')
    .description(
      'Zero-downtime blue-green and canary deployments of Docker containers, with Consul and HAProxy or nginx.',
    )
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  try {
    const only = commandToLoad(argv.slice(2));
    await registerCommands(program, only ? [only] : undefined);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`switchyard: ${errorMessage(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv);
process.exitCode = code;

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { COMMAND_NAMES, commandToLoad, registerCommands } from '../../../src/cli/commands/index.js';

describe('loading only the command that runs', () => {
  it('picks the subcommand named first, or the one `help` is asked about', () => {
    expect(commandToLoad(['switch', 'green', '--service', 'web'])).toBe('switch');
    expect(commandToLoad(['status', '--json'])).toBe('status');
    expect(commandToLoad(['help', 'canary'])).toBe('canary');
  });

  it('loads every command for the program’s own help and version, and for an unknown name', () => {
    for (const args of [[], ['--help'], ['-V'], ['help'], ['swich', 'green'], ['toString'], ['__proto__']])
      expect(commandToLoad(args)).toBeUndefined();
  });

  it('registers just the named command, with the settings main() relies on for exit codes', async () => {
    const program = new Command('switchyard').exitOverride().configureOutput({ writeErr: () => undefined });
    await registerCommands(program, ['status']);
    expect(program.commands.map((c) => c.name())).toEqual(['status']);
    expect(() => program.parse(['node', 'main.js', 'status', '--no-such-flag'], { from: 'node' })).toThrow(
      /unknown option '--no-such-flag'/,
    );
  });

  it('registers all of them, in a fixed order, when none is named', async () => {
    const program = new Command('switchyard');
    await registerCommands(program);
    expect(program.commands.map((c) => c.name())).toEqual(COMMAND_NAMES);
    expect(COMMAND_NAMES).toEqual(['run', 'render', 'switch', 'rollback', 'canary', 'rollout', 'status']);
  });
});

// madge (a devDependency, also the cycle check) ships no types.
const madge = createRequire(import.meta.url)('madge') as (
  entry: string,
  config: { fileExtensions: string[] },
) => Promise<{ obj(): Record<string, string[]> }>;

describe('what a control command loads', () => {
  const commands = fileURLToPath(new URL('../../../src/cli/commands/', import.meta.url));
  // The daemon's heavy packages: each costs a control command tens to hundreds of ms at start.
  const HEAVY = /(?:^import\s+(?!type\b)[^;]*from\s+|\brequire\()'(dockerode|prom-client|eta|chokidar)'/m;

  it.each(['switch', 'rollback', 'canary', 'rollout', 'status'])(
    '%s imports none of dockerode, prom-client, eta, chokidar',
    async (name) => {
      const graph = await madge(path.join(commands, `${name}.ts`), { fileExtensions: ['ts'] });
      const files = Object.keys(graph.obj()).map((f) => path.resolve(commands, f));
      expect(files.length).toBeGreaterThan(3);
      const heavy = files.filter((f) => HEAVY.test(readFileSync(f, 'utf8'))).map((f) => path.relative(commands, f));
      expect(heavy).toEqual([]);
    },
  );
});

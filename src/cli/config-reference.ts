import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const cell = (s: unknown): string =>
  String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

/**
 * docs/configuration.md, generated from the CLI's own option definitions so the reference cannot
 * miss or misstate a flag, its environment variable or its default.
 */
export async function configurationReference(): Promise<string> {
  const program = new Command('switchyard');
  await registerCommands(program);
  const out = [
    '# Configuration reference',
    '',
    'Every option of every `switchyard` command, generated from the CLI itself',
    '(`npm run build && node scripts/config-reference.mjs > docs/configuration.md`; a unit test fails when this',
    'file is stale). Each option can also be set with the environment variable shown; a flag wins over the',
    'environment. Values are checked at start: a bad value prints one line naming the option and what was',
    'expected, and the command exits with code 2.',
    '',
    'Durations take a unit: `250ms`, `5s`, `1m`, `1h`. Lists are comma-separated. Boolean options take',
    '`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) in their environment variable.',
    '',
    'Container **labels** (`color`, `SERVICE_*`) are listed in [registering.md](registering.md#labels-and-environment-variables);',
    'template parameters (`--template-param key=value`) in [templates.md](templates.md).',
    '',
    'Exit codes: `0` success, `1` a refused or failed operation, `2` bad usage or configuration.',
  ];
  // A command with subcommands (`rollout status|pause|…`) is listed by its subcommands.
  const leaves = program.commands.flatMap((cmd) =>
    cmd.commands.length > 0
      ? cmd.commands.map((sub) => ({ cmd: sub, name: `${cmd.name()} ${sub.name()}` }))
      : [{ cmd, name: cmd.name() }],
  );
  for (const { cmd, name } of leaves) {
    const args = cmd.registeredArguments.map((a) => (a.required ? ` <${a.name()}>` : ` [${a.name()}]`)).join('');
    out.push('', `## \`switchyard ${name}${args}\``, '', cell(cmd.description()), '');
    out.push('| flag | environment | default | meaning |', '|---|---|---|---|');
    for (const o of cmd.options) {
      const def = o.defaultValueDescription ?? (o.defaultValue === undefined ? '' : JSON.stringify(o.defaultValue));
      out.push(
        `| \`${cell(o.flags)}\` | ${o.envVar ? `\`${o.envVar}\`` : ''} | ${def === '' ? '' : `\`${cell(def)}\``} | ${cell(o.description)} |`,
      );
    }
  }
  return out.join('\n') + '\n';
}

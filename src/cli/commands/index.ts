import type { Command } from 'commander';

/**
 * Each subcommand lives in its own file, loaded only when it runs: `switch` and `status` must not pay
 * for the daemon's modules (dockerode, prom-client, eta, chokidar) at every start (docs/performance.md).
 */
const COMMANDS = {
  run: async () => (await import('./run.js')).runCommand(),
  render: async () => (await import('./render.js')).renderCommand(),
  switch: async () => (await import('./switch.js')).switchCommand(),
  rollback: async () => (await import('./rollback.js')).rollbackCommand(),
  canary: async () => (await import('./canary.js')).canaryCommand(),
  rollout: async () => (await import('./rollout.js')).rolloutCommand(),
  status: async () => (await import('./status.js')).statusCommand(),
} satisfies Record<string, () => Promise<Command>>;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export function isCommandName(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/**
 * The one command an invocation runs (its arguments after `node main.js`), so only its modules load;
 * undefined (load them all) for the program's own help and version, and for an unknown name so
 * commander can list the commands and suggest the right one.
 */
export function commandToLoad(args: readonly string[]): CommandName | undefined {
  const [first, second] = args;
  if (isCommandName(first)) return first;
  if (first === 'help' && isCommandName(second)) return second;
  return undefined;
}

/** Adds the named commands (all of them by default) to `program`, in the order of COMMAND_NAMES. */
export async function registerCommands(program: Command, only?: readonly CommandName[]): Promise<void> {
  const names = COMMAND_NAMES.filter((n) => !only || only.includes(n));
  const commands = await Promise.all(names.map((n) => COMMANDS[n]()));
  // addCommand() does not inherit exitOverride and output settings; without them a usage error
  // would exit 1 from inside commander instead of reaching main()'s exit code 2.
  for (const cmd of commands) program.addCommand(cmd.copyInheritedSettings(program));
}

import type { Command } from 'commander';
import { canaryCommand } from './canary.js';
import { rollbackCommand } from './rollback.js';
import { rolloutCommand } from './rollout.js';
import { renderCommand } from './render.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { switchCommand } from './switch.js';

/** Each subcommand lives in its own file and adds itself here. */
export function registerCommands(program: Command): void {
  // addCommand() does not inherit exitOverride and output settings; without them a usage error
  // would exit 1 from inside commander instead of reaching main()'s exit code 2.
  const add = (cmd: Command) => program.addCommand(cmd.copyInheritedSettings(program));
  add(runCommand());
  add(renderCommand());
  add(switchCommand());
  add(rollbackCommand());
  add(canaryCommand());
  add(rolloutCommand());
  add(statusCommand());
}

import { CheckerError, errorMessage } from '../errors.js';
import type { ConfigChecker } from './config-checker.js';
import { describeExit, runCommand } from './run-command.js';

/**
 * `--check-command`: an operator's own checker, run by /bin/sh. `{}` in the command is replaced by
 * the candidate file's path (shell-quoted); without `{}` the path is appended. Exit 0 accepts.
 */
export class ShellCommandChecker implements ConfigChecker {
  readonly description: string;

  constructor(
    private readonly command: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.description = `sh -c ${JSON.stringify(command)}`;
  }

  async check(candidatePath: string): Promise<string> {
    const quoted = `'${candidatePath.replace(/'/g, `'\\''`)}'`;
    const script = this.command.includes('{}') ? this.command.split('{}').join(quoted) : `${this.command} ${quoted}`;
    let result;
    try {
      result = await runCommand(['/bin/sh', '-c', script], { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new CheckerError(`could not run the check command ${this.description}: ${errorMessage(err)}`, '', {
        cause: err,
      });
    }
    if (result.exitCode !== 0)
      throw new CheckerError(
        `the check command rejected the candidate config (${this.description} ${describeExit(result, this.timeoutMs)})`,
        result.output,
      );
    return result.output;
  }
}

import path from 'node:path';
import type { DockerClient } from '../docker/docker-client.js';
import { CheckerError, errorMessage } from '../errors.js';
import type { ProxyKind } from './proxy-driver.js';
import { describeExit, runCommand } from './run-command.js';

/**
 * Runs the proxy's own checker on a candidate file. Resolves with the checker's output (warnings)
 * when it accepts; throws CheckerError carrying the output when it rejects or cannot run.
 */
export interface ConfigChecker {
  check(candidatePath: string): Promise<string>;
  readonly description: string;
}

/** The checker command for a proxy, with the file as its last argument. */
export function checkerArgs(kind: ProxyKind, binary: string, file: string): string[] {
  return kind === 'haproxy' ? [binary, '-c', '-f', file] : [binary, '-t', '-c', file];
}

/** `haproxy -c -f FILE` or `nginx -t -c FILE` on this host. */
export class LocalChecker implements ConfigChecker {
  readonly description: string;
  constructor(
    private readonly kind: ProxyKind,
    private readonly binary: string = kind,
    private readonly timeoutMs = 30_000,
  ) {
    this.description = `${binary} ${kind === 'haproxy' ? '-c -f' : '-t -c'}`;
  }

  async check(candidatePath: string): Promise<string> {
    let result;
    try {
      result = await runCommand(checkerArgs(this.kind, this.binary, candidatePath), { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new CheckerError(`could not run the ${this.kind} checker ${this.binary}: ${errorMessage(err)}`, '', {
        cause: err,
      });
    }
    if (result.exitCode !== 0) {
      throw new CheckerError(
        `${this.kind} rejected the candidate config (${this.description} ${describeExit(result, this.timeoutMs)})`,
        result.output,
      );
    }
    return result.output;
  }
}

/**
 * The sidecar layout: the proxy runs in its own container and shares the config folder with
 * Switchyard. The checker runs inside the proxy's container (its binary, its version, its view of
 * files), on the candidate's path as that container sees it: `containerConfigDir` + the file name.
 */
export class DockerExecChecker implements ConfigChecker {
  readonly description: string;
  constructor(
    private readonly kind: ProxyKind,
    private readonly docker: DockerClient,
    private readonly container: string,
    private readonly containerConfigDir: string,
    private readonly binary: string = kind,
  ) {
    this.description = `docker exec ${container} ${binary} ${kind === 'haproxy' ? '-c -f' : '-t -c'}`;
  }

  async check(candidatePath: string): Promise<string> {
    const inContainer = path.posix.join(this.containerConfigDir, path.basename(candidatePath));
    let result;
    try {
      result = await this.docker.exec(this.container, checkerArgs(this.kind, this.binary, inContainer));
    } catch (err) {
      throw new CheckerError(
        `could not run the ${this.kind} checker in container ${this.container}: ${errorMessage(err)}`,
        '',
        { cause: err },
      );
    }
    if (result.exitCode !== 0) {
      throw new CheckerError(
        `${this.kind} in container ${this.container} rejected the candidate config (exit ${result.exitCode})`,
        result.output.trim(),
      );
    }
    return result.output.trim();
  }
}

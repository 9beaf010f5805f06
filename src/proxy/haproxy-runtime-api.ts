import { existsSync } from 'node:fs';
import { ReloadError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { HaproxySocketSession } from './haproxy-admin-socket.js';
import { parseServersState, planRuntime, stateMismatches, type RuntimePlan } from './haproxy-runtime-api-plan.js';
import type { RuntimeUpdater } from './runtime-updater.js';

export interface HaproxyRuntimeApiOptions {
  /** The admin socket the config declares (`stats socket … level admin`). */
  socketPath: string;
  logger: Logger;
  /** Per command. */
  timeoutMs?: number;
  /**
   * Sends one command and returns HAProxy's answer (tests inject); by default one admin socket
   * session per update carries its commands (HaproxySocketSession).
   */
  send?: (command: string) => Promise<string>;
}

// What HAProxy answers to a command it carried out; anything else is an error message.
const ACCEPTED =
  /^(|IP changed from .*|port changed from .*|no need to change the (addr|port).*|IP and port changed .*|New server registered\.)$/i;

/**
 * HAProxy's Runtime API as the HaproxyDriver's RuntimeUpdater: when only servers' addresses,
 * weights or spare/ready state differ between the installed config and the candidate, it sends
 * the planned `set server` / `set weight` commands over the admin socket, one at a time on one
 * session, then reads `show servers state` back and answers true only when every slot matches the
 * candidate. The driver then installs the candidate file without reloading, so the file always
 * describes what runs: a later reload (a structural change, a restart) starts from the same
 * servers, which is how runtime state survives reloads. Any doubt — structural change, no
 * socket, a refused command, a mismatch — ends in false or a throw, and the driver reloads.
 */
export class HaproxyRuntimeApi implements RuntimeUpdater {
  private readonly logger: Logger;
  private warnedNoSocket = false;
  /**
   * The last plan made: one change is planned up to three times (the render pipeline asks whether
   * it skips the quiet period, the driver whether it skips the checker, then tryApply()), each
   * parsing both whole configs.
   */
  private lastPlan: { installed: string; candidate: string; plan: RuntimePlan } | undefined;

  constructor(private readonly options: HaproxyRuntimeApiOptions) {
    this.logger = options.logger.child({ component: 'haproxy-runtime-api' });
  }

  handles(input: { installed: string; candidate: string; quiet?: boolean }): boolean {
    return this.plan(input, input.quiet ?? false) !== undefined;
  }

  /** The commands for this change, or undefined (said why in the log unless quiet) when it needs a reload. */
  private plan(input: { installed: string; candidate: string }, quiet: boolean): RuntimePlan | undefined {
    const plan = this.planFor(input.installed, input.candidate);
    if (plan.kind === 'structural') {
      if (!quiet) this.logger.info(`reloading instead of using the Runtime API: ${plan.why}`);
      return undefined;
    }
    if (!this.options.send && !existsSync(this.options.socketPath)) {
      if (!quiet && !this.warnedNoSocket) {
        this.logger.warn(
          `the HAProxy admin socket ${this.options.socketPath} does not exist, so server changes reload HAProxy; is the "stats socket … level admin" line in the config and HAProxy running?`,
        );
        this.warnedNoSocket = true;
      }
      return undefined;
    }
    return plan;
  }

  private planFor(installed: string, candidate: string): RuntimePlan {
    const last = this.lastPlan;
    if (last?.installed === installed && last.candidate === candidate) return last.plan;
    const plan = planRuntime(installed, candidate);
    this.lastPlan = { installed, candidate, plan };
    return plan;
  }

  async tryApply(input: { installed: string; candidate: string }): Promise<boolean> {
    const plan = this.plan(input, false);
    if (plan?.kind !== 'runtime') return false;
    this.warnedNoSocket = false;
    const session = this.options.send
      ? undefined
      : new HaproxySocketSession(this.options.socketPath, this.options.timeoutMs ?? 2_000);
    const send = this.options.send ?? ((command: string) => session!.send(command));
    try {
      for (const command of plan.commands) {
        let answer: string;
        try {
          answer = (await send(command)).trim();
        } catch (err) {
          throw new ReloadError(
            `HAProxy admin socket ${this.options.socketPath}: "${command}" failed: ${errorMessage(err)}`,
            {
              cause: err,
            },
          );
        }
        if (!ACCEPTED.test(answer)) throw new ReloadError(`HAProxy refused "${command}": ${answer.split('\n')[0]}`);
        this.logger.debug(`${command}${answer ? ` → ${answer}` : ''}`);
      }
      // Trust, then verify: the file is installed without a reload only if HAProxy really serves it.
      const rows = parseServersState(await send('show servers state'));
      const mismatches = stateMismatches(plan.servers, rows);
      if (mismatches.length > 0)
        throw new ReloadError(
          `after the Runtime API update HAProxy does not serve the candidate: ${mismatches.slice(0, 5).join('; ')}`,
        );
    } finally {
      session?.close();
    }
    this.logger.info(
      `${plan.changed} server slot(s) changed through the admin socket with ${plan.commands.length} command(s), no reload`,
      { commands: plan.commands.length },
    );
    return true;
  }
}

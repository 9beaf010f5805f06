import { readdir, readFile } from 'node:fs/promises';
import type { DockerClient } from '../docker/docker-client.js';
import { ReloadError, errorMessage } from '../errors.js';
import { describeExit, runCommand } from './run-command.js';

/** Makes the running proxy load the installed config. Throws ReloadError saying why it could not. */
export interface Reloader {
  reload(): Promise<void>;
  readonly description: string;
  /**
   * True when reload() itself sends the signal again until the proxy takes it; a caller that waits
   * for the new worker must then not ask again.
   */
  readonly resends?: boolean;
}

/** How long HAProxy's reloaders wait for a new worker before they send the reload signal again. */
export const HAPROXY_RESEND_AFTER_MS = 1_000;

/**
 * When to send a reload signal again after the `sent`-th one: `firstMs` after the first, twice as long
 * after each next one; never when `firstMs` is 0.
 */
export function nextResendAt(now: number, firstMs: number, sent: number): number {
  return firstMs > 0 ? now + firstMs * 2 ** (sent - 1) : Infinity;
}

/** Reads a pid file and checks the process is alive. */
export async function readLivePid(pidFile: string, what: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (err) {
    throw new ReloadError(`cannot read the ${what} pid file ${pidFile}: ${errorMessage(err)}`, { cause: err });
  }
  // HAProxy writes the master pid first (then the workers' in older versions): the first line is the master.
  const pid = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new ReloadError(`${pidFile} holds no pid ("${text.slice(0, 40)}")`);
  if (!isAlive(pid)) throw new ReloadError(`the ${what} (pid ${pid} from ${pidFile}) is not running`);
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The child pids of a process (Linux /proc), or undefined when they cannot be read (another pid
 * namespace, no /proc): then a reload cannot be verified this way and is trusted.
 */
export async function childPids(pid: number): Promise<Set<number> | undefined> {
  try {
    const out = new Set<number>();
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
      for (const p of text.split(/\s+/)) if (p) out.add(Number(p));
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * A signal to the proxy's master process, found through its pid file: SIGUSR2 for an HAProxy master
 * in master-worker mode (the listening sockets pass to the new workers; old ones finish their
 * requests), SIGHUP for the nginx master (`nginx -s reload` does the same).
 *
 * Both masters answer the signal asynchronously, so reload() then waits until the master has forked
 * a worker that was not there before, or fails with ReloadError when the master dies or no new
 * worker appears within `verifyTimeoutMs` (the proxy refused the config or could not bind; the old
 * workers keep serving).
 *
 * With `resendAfterMs`, a signal that brought no new worker is sent again after that long, then
 * after twice as long, and so on within `verifyTimeoutMs`. An HAProxy 2.6 master drops a SIGUSR2 that
 * comes just after it started (measured: 7 of 40 signals sent as its first worker began to answer
 * brought no new worker, ever; none of 20 sent 300 ms later was lost). A repeat that was not needed
 * is harmless: the reload it may add reads the same installed file.
 */
export class PidSignalReloader implements Reloader {
  readonly description: string;
  constructor(
    private readonly pidFile: string,
    private readonly signal: NodeJS.Signals,
    private readonly what: string,
    private readonly verifyTimeoutMs = 10_000,
    /**
     * After the new worker appears, wait up to this long for the old workers to exit. nginx's old
     * workers still accept new connections until they have handled the master's QUIT, so "reloaded"
     * would otherwise be reported (and `switch --wait` satisfied) a moment early. 0: don't wait.
     */
    private readonly oldWorkersExitMs = 0,
    /** Send the signal again when no new worker appeared after this long (doubling each time); 0: never. */
    private readonly resendAfterMs = 0,
  ) {
    this.description = `${signal} to the ${what} in ${pidFile}`;
  }

  get resends(): boolean {
    return this.resendAfterMs > 0;
  }

  async reload(): Promise<void> {
    const pid = await readLivePid(this.pidFile, this.what);
    const before = await childPids(pid);
    this.send(pid);
    if (!before) return;
    const started = Date.now();
    const deadline = started + this.verifyTimeoutMs;
    let sent = 1;
    let resendAt = nextResendAt(started, this.resendAfterMs, sent);
    for (;;) {
      await new Promise((r) => setTimeout(r, 10));
      if (!isAlive(pid)) throw new ReloadError(`the ${this.what} (pid ${pid}) exited during the reload`);
      const now = await childPids(pid);
      if (now && [...now].some((p) => !before.has(p))) return this.settle(pid, before);
      if (Date.now() > deadline) {
        const times = sent > 1 ? ` (sent ${sent} times)` : '';
        throw new ReloadError(
          `the ${this.what} (pid ${pid}) started no new worker within ${this.verifyTimeoutMs} ms after ${this.signal}${times}; ` +
            `the old workers keep serving the previous config (see the proxy's own log for why)`,
        );
      }
      if (Date.now() >= resendAt) {
        this.send(pid);
        sent += 1;
        resendAt = nextResendAt(Date.now(), this.resendAfterMs, sent);
      }
    }
  }

  private send(pid: number): void {
    try {
      process.kill(pid, this.signal);
    } catch (err) {
      throw new ReloadError(`could not send ${this.signal} to the ${this.what} (pid ${pid}): ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Bounded: an old worker still finishing a long request must not hold up the next apply. */
  private async settle(pid: number, oldWorkers: Set<number>): Promise<void> {
    const deadline = Date.now() + this.oldWorkersExitMs;
    while (Date.now() < deadline) {
      const now = await childPids(pid);
      if (!now || ![...now].some((p) => oldWorkers.has(p))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Any command (`--reload-command`), run by /bin/sh; a non-zero exit is a failed reload. */
export class CommandReloader implements Reloader {
  readonly description: string;
  constructor(
    private readonly command: string,
    private readonly timeoutMs = 60_000,
  ) {
    this.description = `command: ${command}`;
  }

  async reload(): Promise<void> {
    let result;
    try {
      result = await runCommand(['/bin/sh', '-c', this.command], { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new ReloadError(`could not run the reload command: ${errorMessage(err)}`, { cause: err });
    }
    if (result.exitCode !== 0) {
      const out = result.output ? `: ${result.output.slice(-2000)}` : '';
      throw new ReloadError(`reload command ${describeExit(result, this.timeoutMs)}${out}`);
    }
  }
}

/** The sidecar layout: a signal to the proxy's container (its main process) through the Docker API. */
export class ContainerSignalReloader implements Reloader {
  readonly description: string;
  constructor(
    private readonly docker: DockerClient,
    private readonly container: string,
    private readonly signal: string,
  ) {
    this.description = `${signal} to container ${container}`;
  }

  async reload(): Promise<void> {
    try {
      await this.docker.signalContainer(this.container, this.signal);
    } catch (err) {
      throw new ReloadError(`could not send ${this.signal} to container ${this.container}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
}

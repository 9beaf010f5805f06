import { errorMessage } from './errors.js';
import type { PartState } from './http/health.js';
import { once, withTimeout, type Lifecycle } from './lifecycle.js';
import { exitAfterLogs, type Logger } from './log/logger.js';

/**
 * `switchyard run`: an ordered list of named parts (Consul client, registrar, render role, HTTP
 * server…). Parts start in list order and close in reverse, so a part may rely on everything listed
 * before it while it runs and while it shuts down. A role adds itself with one `add()` call.
 */
export interface DaemonPart {
  name: string;
  part: Lifecycle;
}

export interface DaemonOptions {
  logger: Logger;
  /** Bound on the whole shutdown; parts still running after it are abandoned (the process exits). */
  closeTimeoutMs?: number;
}

export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export class Daemon implements Lifecycle {
  private readonly parts: DaemonPart[] = [];
  private readonly started: DaemonPart[] = [];
  private readonly logger: Logger;
  private readonly closeTimeoutMs: number;
  private closing = false;
  private readonly running = new Set<DaemonPart>();

  constructor(options: DaemonOptions) {
    this.logger = options.logger.child({ component: 'daemon' });
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  /** Adds a part; call before start(). */
  add(name: string, part: Lifecycle): this {
    this.parts.push({ name, part });
    return this;
  }

  /** Each part and where it is in its life, for /healthz (src/http/health.ts). */
  partStates(): PartState[] {
    return this.parts.map((p) => ({
      name: p.name,
      part: p.part,
      phase: this.closing
        ? 'closing'
        : this.running.has(p)
          ? 'running'
          : this.started.includes(p)
            ? 'starting'
            : 'pending',
    }));
  }

  async start(): Promise<void> {
    for (const p of this.parts) {
      // A signal during start-up: stop starting more, close() takes care of what did start.
      if (this.closing) return;
      this.started.push(p);
      try {
        await p.part.start();
        this.running.add(p);
      } catch (err) {
        this.logger.error(`could not start ${p.name}: ${errorMessage(err)}`, { part: p.name });
        await this.close();
        throw err;
      }
      this.logger.debug(`${p.name} started`, { part: p.name });
    }
    this.logger.info(`switchyard is running (${this.parts.map((p) => p.name).join(', ')})`);
  }

  readonly close = once(async (): Promise<void> => {
    this.closing = true;
    const deadline = Date.now() + this.closeTimeoutMs;
    for (const p of [...this.started].reverse()) {
      // Every part gets at least a moment, even when an earlier one used up the budget.
      const budget = Math.max(250, deadline - Date.now());
      try {
        await withTimeout(p.part.close(), budget, `closing ${p.name}`);
        this.logger.debug(`${p.name} closed`, { part: p.name });
      } catch (err) {
        this.logger.warn(`${p.name} did not close cleanly: ${errorMessage(err)}`, { part: p.name });
      }
    }
  });
}

/**
 * Starts the daemon and resolves with the exit code once SIGTERM or SIGINT has closed it: 0 after a
 * clean stop, 1 when start-up failed. A second signal while closing exits at once.
 */
export async function runUntilSignal(
  daemon: Daemon,
  logger: Logger,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<number> {
  const log = logger.child({ component: 'daemon' });
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled += 1;
    if (signalled > 1) {
      log.warn(`${signal} received again while stopping; exiting now`);
      void exitAfterLogs(logger, 1, 500);
      return;
    }
    stopRequested(signal);
  };
  for (const s of signals) process.on(s, onSignal);
  // Signal listeners do not keep Node alive; a daemon whose parts are all idle must still wait.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    const startFailed = daemon.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    const first = await Promise.race([stopped.then((signal) => ({ signal })), startFailed.then((err) => ({ err }))]);
    if ('err' in first && first.err !== undefined) {
      log.error(`switchyard could not start: ${errorMessage(first.err)}`);
      return 1;
    }
    const signal = 'signal' in first ? first.signal : await stopped;
    log.info(`${signal} received; stopping`);
    await daemon.close();
    log.info('switchyard stopped');
    return 0;
  } finally {
    clearInterval(keepAlive);
    for (const s of signals) process.off(s, onSignal);
  }
}

/** A part that only needs closing (a client whose connections must end last). */
export function closeOnly(close: () => Promise<void>): Lifecycle {
  return { start: () => Promise.resolve(), close: once(close) };
}

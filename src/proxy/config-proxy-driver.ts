import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CheckerError, ClosedError, ConfigError, ReloadError, errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, withTimeout } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { ConfigChecker } from './config-checker.js';
import { ConfigInstaller } from './config-installer.js';
import type { ApplyInput, ApplyOutcome, ProxyDriver, ProxyKind } from './proxy-driver.js';
import type { Reloader } from './reloader.js';
import type { RuntimeUpdater } from './runtime-updater.js';

/**
 * The check → install → reload sequence both proxies share. HaproxyDriver and NginxDriver
 * (haproxy-driver.ts, nginx-driver.ts) build one with the right checker and reloader; use those.
 *
 * apply():
 *   1. the candidate equals the installed file and no reload is owed → 'unchanged';
 *   2. the candidate is written next to the target and checked there (the proxy's own checker); a
 *      rejection throws CheckerError, the temp file is removed, the installed file is untouched;
 *   3. with a RuntimeUpdater that handles the change: install, no reload → 'runtime';
 *   4. install atomically, reload → 'reloaded' (no reloader configured → 'installed').
 * A failed reload throws ReloadError and is owed: the next apply() reloads even when the config has
 * not changed since. apply() logs its own outcome (with the checker's output on a rejection) and
 * counts it on Metrics; callers only decide what to do next. Calls are serialised.
 */
export interface ConfigProxyDriverOptions {
  kind: ProxyKind;
  configPath: string;
  checker: ConfigChecker;
  /** undefined: install only (the proxy is reloaded by someone else, or this is a dry run). */
  reloader?: Reloader;
  runtime?: RuntimeUpdater;
  logger: Logger;
  metrics?: Metrics;
  /** How long close() waits for an apply in progress. */
  closeTimeoutMs?: number;
}

export class ConfigProxyDriver implements ProxyDriver {
  readonly kind: ProxyKind;
  readonly configPath: string;
  private readonly installer: ConfigInstaller;
  private readonly logger: Logger;
  private chain: Promise<unknown> = Promise.resolve();
  private reloadOwed = false;
  private closed = false;

  constructor(private readonly options: ConfigProxyDriverOptions) {
    this.kind = options.kind;
    this.installer = new ConfigInstaller(options.configPath);
    this.configPath = this.installer.targetPath;
    this.logger = options.logger.child({ component: `proxy-${options.kind}` });
  }

  async start(): Promise<void> {
    const dir = path.dirname(this.configPath);
    const s = await stat(dir).catch(() => undefined);
    if (!s?.isDirectory())
      throw new ConfigError(`the folder of the ${this.kind} config ${this.configPath} does not exist`);
    // Temp files left by a crash between stage and install are ours to remove.
    const prefix = `.${path.basename(this.configPath)}.`;
    for (const name of await readdir(dir)) {
      if (name.startsWith(prefix) && name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
    }
    this.logger.info(`${this.kind} driver ready`, {
      configPath: this.configPath,
      checker: this.options.checker.description,
      reloader: this.options.reloader?.description ?? 'none (install only)',
    });
  }

  readonly close = once(async () => {
    this.closed = true;
    await withTimeout(
      this.chain.catch(() => undefined),
      this.options.closeTimeoutMs ?? 30_000,
      `${this.kind} driver: the apply in progress`,
    ).catch((err: unknown) => this.logger.warn(errorMessage(err)));
  });

  apply(input: ApplyInput): Promise<ApplyOutcome> {
    if (this.closed) return Promise.reject(new ClosedError(`${this.kind} driver is closed`));
    const run = this.chain.catch(() => undefined).then(() => this.applyNow(input));
    this.chain = run;
    return run;
  }

  private async applyNow({ config, snapshot, reason }: ApplyInput): Promise<ApplyOutcome> {
    const started = Date.now();
    const fields = { configPath: this.configPath, reason };
    const installed = await this.installer.current();
    const outcome = (action: ApplyOutcome['action']): ApplyOutcome => ({ action, configPath: this.configPath });

    if (installed === config && !this.reloadOwed) return outcome('unchanged');

    if (installed !== config) {
      const staged = await this.installer.stage(config);
      try {
        const warnings = await this.options.checker.check(staged.path);
        if (warnings) this.logger.debug(`${this.kind} checker accepted the candidate with output: ${warnings}`, fields);
      } catch (err) {
        await staged.discard();
        if (err instanceof CheckerError) {
          this.options.metrics?.checkerRejections.inc({ proxy: this.kind });
          this.logger.error(
            `${err.message}; it was not installed and the proxy keeps serving the current config. Checker output:\n${err.output}`,
            fields,
          );
        }
        throw err;
      }

      if (this.options.runtime && installed !== undefined && !this.reloadOwed) {
        const handled = await this.tryRuntime(installed, config, snapshot);
        if (handled) {
          await this.installer.install(staged);
          await this.installer.saveLastGood(config);
          this.options.metrics?.lastApplySuccess.setToCurrentTime();
          this.logger.info(`${this.kind} servers updated through the Runtime API, no reload (${reason})`, {
            ...fields,
            durationMs: Date.now() - started,
          });
          return outcome('runtime');
        }
      }
      await this.installer.install(staged);
    }

    const reloader = this.options.reloader;
    if (!reloader) {
      this.options.metrics?.lastApplySuccess.setToCurrentTime();
      this.logger.info(`${this.kind} config installed; no reload configured (${reason})`, fields);
      return outcome('installed');
    }
    try {
      await reloader.reload();
    } catch (err) {
      this.reloadOwed = true;
      this.options.metrics?.reloads.inc({ proxy: this.kind, outcome: 'error' });
      const error =
        err instanceof ReloadError
          ? err
          : new ReloadError(`${this.kind} reload failed: ${errorMessage(err)}`, { cause: err });
      this.logger.error(
        `${this.kind} reload failed: ${error.message}. The config is installed; the reload is retried on the next change`,
        { ...fields, reloader: reloader.description },
      );
      throw error;
    }
    this.reloadOwed = false;
    this.options.metrics?.reloads.inc({ proxy: this.kind, outcome: 'ok' });
    this.options.metrics?.lastApplySuccess.setToCurrentTime();
    await this.installer.saveLastGood(config);
    this.logger.info(`${this.kind} config installed and reloaded (${reason})`, {
      ...fields,
      durationMs: Date.now() - started,
    });
    return outcome('reloaded');
  }

  private async tryRuntime(installed: string, candidate: string, snapshot: ApplyInput['snapshot']): Promise<boolean> {
    try {
      const handled = await this.options.runtime!.tryApply({ installed, candidate, snapshot });
      if (handled) this.options.metrics?.runtimeUpdates.inc({ outcome: 'ok' });
      return handled;
    } catch (err) {
      this.options.metrics?.runtimeUpdates.inc({ outcome: 'error' });
      this.logger.warn(`Runtime API update failed, reloading instead: ${errorMessage(err)}`, {
        configPath: this.configPath,
      });
      return false;
    }
  }
}

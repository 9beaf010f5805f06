import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { ConfigProxyDriver } from './config-proxy-driver.js';
import { HAPROXY_RESEND_AFTER_MS, nextResendAt, type Reloader } from './reloader.js';
import { proxyChecker, proxyReloader, type ProxyProcessOptions } from './proxy-process.js';
import type { RuntimeUpdater } from './runtime-updater.js';
import { servingWorkerPid } from './haproxy-admin-socket.js';
import { ReloadError } from '../errors.js';

/**
 * HAProxy as the render role drives it: `haproxy -c -f` on the candidate, atomic install, then a
 * master-worker reload (the listening sockets pass to the new workers; old workers finish their
 * requests, bounded by `hard-stop-after`).
 *
 *   // HAProxy on this host, started as `haproxy -W -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid`:
 *   const driver = new HaproxyDriver({ configPath: '/etc/haproxy/haproxy.cfg', pidFile: '/run/haproxy.pid', logger, metrics });
 *   // Sidecar: HAProxy in container "lb" with the config folder mounted at /usr/local/etc/haproxy:
 *   new HaproxyDriver({ configPath, container: { docker, name: 'lb', configDir: '/usr/local/etc/haproxy' }, logger });
 *   // Anything else: reloadCommand: 'systemctl reload haproxy'
 *   await driver.start(); await driver.apply({ config, snapshot, reason }); await driver.close();
 *
 * The reload is chosen in this order: `reloader`, `reloadCommand`, `container` (SIGUSR2 to it, as
 * the official image expects), `pidFile` (SIGUSR2 to the master); with none, the file is only
 * installed. With a pid file, a reload
 * counts as done once the master has forked its new worker (PidSignalReloader).
 */
export interface HaproxyDriverOptions extends ProxyProcessOptions {
  configPath: string;
  logger: Logger;
  metrics?: Metrics;
  /** The Runtime API, for server changes without a reload. */
  runtime?: RuntimeUpdater;
  /**
   * The admin socket the config declares (template param adminSocket). When set, a reload counts as
   * done only once a new worker answers on it — the moment the old worker stops taking connections.
   */
  adminSocket?: string;
}

/**
 * Wraps a reload so it returns when the new worker serves: the admin socket is accepted by the
 * listening worker only, so its `show info` Pid changes once the old worker has let go. When the
 * socket cannot be asked before the reload (not configured, HAProxy elsewhere) the reload is trusted.
 *
 * A master that has just started drops an early SIGUSR2 (PidSignalReloader), so when the inner
 * reloader does not send again itself (a signal through Docker, a reload command) it is asked again
 * after `resendAfterMs` with no new worker, then after twice as long, within `timeoutMs`.
 */
export class HaproxyServingReloader implements Reloader {
  readonly description: string;
  readonly resends = true;
  constructor(
    private readonly inner: Reloader,
    private readonly adminSocket: string,
    private readonly timeoutMs = 10_000,
    private readonly resendAfterMs = HAPROXY_RESEND_AFTER_MS,
  ) {
    this.description = `${inner.description}, then a new worker on ${adminSocket}`;
  }

  async reload(): Promise<void> {
    const before = await servingWorkerPid(this.adminSocket);
    await this.inner.reload();
    if (before === undefined) return;
    const deadline = Date.now() + this.timeoutMs;
    let asked = 1;
    let askAt = this.inner.resends ? Infinity : nextResendAt(Date.now(), this.resendAfterMs, asked);
    for (;;) {
      const now = await servingWorkerPid(this.adminSocket);
      if (now !== undefined && now !== before) return;
      if (Date.now() > deadline) {
        const times = asked > 1 ? ` (reload asked ${asked} times)` : '';
        throw new ReloadError(
          `no new HAProxy worker answered on ${this.adminSocket} within ${this.timeoutMs} ms${times}; worker ${before} still serves the previous config`,
        );
      }
      if (Date.now() >= askAt) {
        await this.inner.reload();
        asked += 1;
        askAt = nextResendAt(Date.now(), this.resendAfterMs, asked);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export class HaproxyDriver extends ConfigProxyDriver {
  constructor(options: HaproxyDriverOptions) {
    const checker = proxyChecker('haproxy', options);
    const base = proxyReloader('haproxy', options);
    const reloader = base && options.adminSocket ? new HaproxyServingReloader(base, options.adminSocket) : base;
    super({
      kind: 'haproxy',
      configPath: options.configPath,
      checker,
      reloader,
      runtime: options.runtime,
      logger: options.logger,
      metrics: options.metrics,
    });
  }
}

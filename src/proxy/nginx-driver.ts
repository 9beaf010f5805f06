import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { ConfigProxyDriver } from './config-proxy-driver.js';
import { proxyChecker, proxyReloader, type ProxyProcessOptions } from './proxy-process.js';

/**
 * nginx as the render role drives it: `nginx -t -c` on the candidate, atomic install, then SIGHUP to
 * the master (what `nginx -s reload` sends): new workers start on the new config, old ones finish
 * their requests, bounded by `worker_shutdown_timeout`. Open-source nginx has no runtime API, so
 * every change is a reload; see docs/templates.md for the keep-alive race that remains.
 *
 *   new NginxDriver({ configPath: '/etc/nginx/nginx.conf', pidFile: '/run/nginx.pid', logger, metrics });
 *   new NginxDriver({ configPath, container: { docker, name: 'lb', configDir: '/etc/nginx' }, logger });
 *
 * The candidate is checked with `nginx -t -c <candidate>`: nginx opens the error log and pid paths
 * the config names, so they must be writable by the checker (template params errorLog, pidFile).
 * Reload order: `reloader`, `reloadCommand`, `container` (SIGHUP to it), `pidFile` (SIGHUP).
 */
export interface NginxDriverOptions extends ProxyProcessOptions {
  configPath: string;
  logger: Logger;
  metrics?: Metrics;
}

export class NginxDriver extends ConfigProxyDriver {
  constructor(options: NginxDriverOptions) {
    const checker = proxyChecker('nginx', options);
    const reloader = proxyReloader('nginx', options);
    super({
      kind: 'nginx',
      configPath: options.configPath,
      checker,
      reloader,
      logger: options.logger,
      metrics: options.metrics,
    });
  }
}

import type { DockerClient } from '../docker/docker-client.js';
import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { DockerExecChecker, LocalChecker, type ConfigChecker } from './config-checker.js';
import { ConfigProxyDriver } from './config-proxy-driver.js';
import { CommandReloader, ContainerSignalReloader, PidSignalReloader, type Reloader } from './reloader.js';

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
export interface NginxDriverOptions {
  configPath: string;
  logger: Logger;
  metrics?: Metrics;
  binary?: string;
  pidFile?: string;
  reloadCommand?: string;
  container?: { docker: DockerClient; name: string; configDir: string; signal?: string };
  checker?: ConfigChecker;
  reloader?: Reloader;
}

export class NginxDriver extends ConfigProxyDriver {
  constructor(options: NginxDriverOptions) {
    const checker =
      options.checker ??
      (options.container
        ? new DockerExecChecker('nginx', options.container.docker, options.container.name, options.container.configDir)
        : new LocalChecker('nginx', options.binary ?? 'nginx'));
    const reloader =
      options.reloader ??
      (options.reloadCommand
        ? new CommandReloader(options.reloadCommand)
        : options.container
          ? new ContainerSignalReloader(
              options.container.docker,
              options.container.name,
              options.container.signal ?? 'SIGHUP',
            )
          : options.pidFile
            ? new PidSignalReloader(options.pidFile, 'SIGHUP', 'nginx master', 10_000, 2_000)
            : undefined);
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

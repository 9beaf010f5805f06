import path from 'node:path';
import type { ConsulClient } from '../consul/consul-client.js';
import type { DockerClient } from '../docker/docker-client.js';
import { ConfigError } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import { DockerExecChecker } from '../proxy/config-checker.js';
import { HaproxyDriver } from '../proxy/haproxy-driver.js';
import { HaproxyRuntimeApi } from '../proxy/haproxy-runtime-api.js';
import { NginxDriver } from '../proxy/nginx-driver.js';
import type { ProxyDriver, ProxyKind } from '../proxy/proxy-driver.js';
import type { SnapshotRules } from '../snapshot/build-snapshot.js';
import { CatalogWatcher } from '../watch/catalog-watcher.js';
import { ShellCommandChecker } from './check-command.js';
import { EtaTemplateRenderer } from './eta-template-renderer.js';
import {
  DEFAULT_CONFIG_PATH,
  DEFAULT_CONTAINER_CONFIG_DIR,
  defaultTemplatePath,
  type RenderOptions,
} from './render-options.js';
import { RenderPipeline } from './render-pipeline.js';
import { TemplateWatcher } from './template-watcher.js';
import { HaproxyStatsSource, NginxTrafficLogSource } from '../proxy/traffic-counters.js';
import { TrafficPublisher } from './traffic-publisher.js';
import { KvRendererReporter } from './renderer-report-writer.js';
import { parseTemplateParams, type TemplateParams } from './template-params.js';

/** The render options resolved to what the parts need (defaults filled in, params validated). */
export interface RenderSettings {
  kind: ProxyKind;
  templatePath: string;
  configPath: string;
  params: TemplateParams;
  rules: SnapshotRules;
  pidFile: string | undefined;
}

export function renderSettings(o: RenderOptions): RenderSettings {
  if (o.proxyConfigDir && !o.proxyContainer)
    throw new ConfigError('--proxy-config-dir only applies with --proxy-container');
  let params: TemplateParams;
  try {
    params = parseTemplateParams(o.templateParam);
  } catch (err) {
    throw new ConfigError(`option '--template-param' (SWITCHYARD_TEMPLATE_PARAMS): ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    kind: o.proxy,
    templatePath: path.resolve(o.template ?? defaultTemplatePath(o.proxy)),
    configPath: path.resolve(o.config ?? DEFAULT_CONFIG_PATH[o.proxy]),
    params,
    rules: { colors: o.colors, ...(o.services ? { services: o.services } : {}) },
    // nginx writes its pid where the template says; HAProxy's pid file is given on its command line.
    pidFile: o.proxyPidFile ?? (o.proxy === 'nginx' && !o.proxyContainer ? params.pidFile : undefined),
  };
}

export interface DriverDeps {
  logger: Logger;
  metrics?: Metrics;
  docker?: DockerClient;
}

/** The proxy driver the options describe; `reload: false` installs only (render --once --no-reload, --dry). */
export function createDriver(o: RenderOptions, s: RenderSettings, deps: DriverDeps): ProxyDriver {
  const docker = deps.docker;
  if (o.proxyContainer && !docker) throw new ConfigError('--proxy-container needs a Docker connection');
  const containerDir = o.proxyConfigDir ?? DEFAULT_CONTAINER_CONFIG_DIR[s.kind];
  // The checker is chosen here rather than by the driver so that install-only (no reload) keeps
  // checking inside the proxy's container.
  const checker = o.checkCommand
    ? new ShellCommandChecker(o.checkCommand)
    : o.proxyContainer && docker
      ? new DockerExecChecker(s.kind, docker, o.proxyContainer, containerDir, o.proxyBinary ?? s.kind)
      : undefined;
  const options = {
    configPath: s.configPath,
    logger: deps.logger,
    metrics: deps.metrics,
    ...(o.proxyBinary ? { binary: o.proxyBinary } : {}),
    ...(checker ? { checker } : {}),
    ...(o.reload && o.reloadCommand ? { reloadCommand: o.reloadCommand } : {}),
    ...(o.reload && s.pidFile ? { pidFile: s.pidFile } : {}),
    // A reload is done once a new worker answers on the admin socket — when the config declares one:
    // the shipped template always does, an operator's own template when it is given as a param.
    ...(s.kind === 'haproxy' && o.reload && !o.proxyContainer && (!o.template || 'adminSocket' in s.params.raw)
      ? { adminSocket: s.params.adminSocket }
      : {}),
    ...(o.reload && o.proxyContainer && docker
      ? { container: { docker, name: o.proxyContainer, configDir: containerDir } }
      : {}),
    // Server-only changes through the admin socket, no reload (src/proxy/haproxy-runtime-api.ts); the
    // same conditions as above, since the socket must be one this host can reach.
    ...(s.kind === 'haproxy' &&
    o.reload &&
    o.haproxyRuntimeApi !== false &&
    !o.proxyContainer &&
    (!o.template || 'adminSocket' in s.params.raw)
      ? { runtime: new HaproxyRuntimeApi({ socketPath: s.params.adminSocket, logger: deps.logger }) }
      : {}),
  };
  return s.kind === 'haproxy' ? new HaproxyDriver(options) : new NginxDriver(options);
}

export interface RenderRoleDeps extends DriverDeps {
  consul: ConsulClient;
  metrics: Metrics;
  kvPrefix: string;
}

/**
 * The render role as one daemon part: Consul watch → snapshots → render pipeline → proxy driver.
 * Starts the driver first (it checks the config folder) and the watch last; closes in reverse, so
 * no snapshot arrives at a closed pipeline and an apply in flight finishes before the driver closes.
 */
export class RenderRole implements Lifecycle {
  readonly settings: RenderSettings;
  readonly renderer: EtaTemplateRenderer;
  readonly driver: ProxyDriver;
  readonly pipeline: RenderPipeline;
  readonly watcher: CatalogWatcher;
  readonly templateWatcher: TemplateWatcher;
  /** Request counters for rollout gates; undefined when this proxy's cannot be read from here. */
  readonly traffic: TrafficPublisher | undefined;
  private readonly log: Logger;

  constructor(o: RenderOptions, deps: RenderRoleDeps) {
    this.log = deps.logger.child({ component: 'render' });
    this.settings = renderSettings(o);
    // Compiles now: a daemon never starts on a template that does not compile.
    this.renderer = new EtaTemplateRenderer({
      templatePath: this.settings.templatePath,
      params: this.settings.params,
      logger: deps.logger,
    });
    this.driver = createDriver(o, this.settings, deps);
    this.pipeline = new RenderPipeline({
      renderer: this.renderer,
      driver: this.driver,
      logger: deps.logger,
      metrics: deps.metrics,
      wait: o.wait,
      retryDelayMs: o.retryDelay,
      reporter: new KvRendererReporter(deps.consul, deps.kvPrefix),
    });
    this.watcher = new CatalogWatcher({
      consul: deps.consul,
      kvPrefix: deps.kvPrefix,
      rules: this.settings.rules,
      logger: deps.logger,
      metrics: deps.metrics,
      waitMs: o.consulWait,
      restartGraceMs: o.restartGrace,
      onSnapshot: (snapshot, seenAt) => {
        this.pipeline.update(snapshot, seenAt);
        this.traffic?.update(snapshot);
      },
    });
    const p = this.settings.params;
    const source =
      o.proxyContainer || !o.reload
        ? undefined
        : this.settings.kind === 'haproxy'
          ? !o.template || 'adminSocket' in p.raw
            ? new HaproxyStatsSource(p.adminSocket)
            : undefined
          : p.trafficLog !== 'off'
            ? new NginxTrafficLogSource(p.trafficLog)
            : undefined;
    this.traffic = source
      ? new TrafficPublisher({
          consul: deps.consul,
          kvPrefix: deps.kvPrefix,
          proxy: this.settings.kind,
          source,
          intervalMs: o.trafficInterval,
          logger: deps.logger,
        })
      : undefined;
    // The watcher recompiles the edited template itself (keeping the last good one on failure).
    this.templateWatcher = new TemplateWatcher({
      template: this.renderer,
      onChange: () => this.pipeline.templateChanged(),
      logger: deps.logger,
    });
  }

  /** The template file changed: compile it again and, when it compiles, re-render at once. */
  templateEdited(): void {
    try {
      this.renderer.reload();
    } catch (err) {
      this.log.error(
        `the edited template ${this.settings.templatePath} does not compile, so the last good one stays in use: ${(err as Error).message}`,
      );
      return;
    }
    this.pipeline.templateChanged();
  }

  async start(): Promise<void> {
    try {
      await this.driver.start();
    } catch (err) {
      throw new ConfigError(
        `${(err as Error).message} (set --config, or run with --no-render on a host without a proxy)`,
        { cause: err },
      );
    }
    await this.pipeline.start();
    await this.watcher.start();
    await this.templateWatcher.start();
    await this.traffic?.start();
    this.log.info(
      `render role started: ${this.settings.kind} config ${this.settings.configPath} from template ${this.settings.templatePath}`,
    );
  }

  readonly close = once(async (): Promise<void> => {
    await this.traffic?.close();
    await this.templateWatcher.close();
    await this.watcher.close();
    await this.pipeline.close();
    await this.driver.close();
  });
}

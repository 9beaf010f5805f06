import path from 'node:path';
import type { ConsulClient } from '../consul/consul-client.js';
import { ConsulLiveness } from '../consul/consul-liveness.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { HealthReporter, PartHealth } from '../http/health.js';
import type { Metrics } from '../http/metrics.js';
import { closeEach, once, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { ProxyDriver, ProxyKind } from '../proxy/proxy-driver.js';
import type { SnapshotRules } from '../snapshot/build-snapshot.js';
import { CatalogWatcher } from '../watch/catalog-watcher.js';
import { EtaTemplateRenderer } from './eta-template-renderer.js';
import { DEFAULT_CONFIG_PATH, defaultTemplatePath, type RenderOptions } from './render-options.js';
import { renderHealth } from './render-health.js';
import { RenderPipeline } from './render-pipeline.js';
import { TemplateWatcher } from './template-watcher.js';
import type { TrafficCounterSource } from '../proxy/traffic-counters.js';
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
  if (o.haproxyAdminSocket && !o.proxyContainer)
    throw new ConfigError(
      '--haproxy-admin-socket only applies with --proxy-container (otherwise the template param adminSocket is used)',
    );
  let params: TemplateParams;
  try {
    params = parseTemplateParams(o.templateParam);
  } catch (err) {
    throw new ConfigError(`option '--template-param' (SWITCHYARD_TEMPLATE_PARAMS): ${errorMessage(err)}`, {
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

export interface RenderRoleDeps {
  consul: ConsulClient;
  /** Built by the composition root (src/cli/compose.ts) from the same options. */
  driver: ProxyDriver;
  logger: Logger;
  metrics: Metrics;
  kvPrefix: string;
  /** Where this host reads its proxy's request counters for rollout gates; unset: none published. */
  traffic?: TrafficCounterSource;
}

/**
 * The render role as one daemon part: Consul watch → snapshots → render pipeline → proxy driver.
 * Starts the driver first (it checks the config folder) and the watch last; closes in reverse, so
 * no snapshot arrives at a closed pipeline and an apply in flight finishes before the driver closes.
 */
export class RenderRole implements Lifecycle, HealthReporter {
  readonly settings: RenderSettings;
  readonly renderer: EtaTemplateRenderer;
  readonly driver: ProxyDriver;
  readonly pipeline: RenderPipeline;
  readonly watcher: CatalogWatcher;
  readonly templateWatcher: TemplateWatcher;
  readonly liveness: ConsulLiveness;
  /** Request counters for rollout gates; undefined when this proxy's cannot be read from here. */
  readonly traffic: TrafficPublisher | undefined;
  private readonly log: Logger;
  private startedAt: number | undefined;

  constructor(o: RenderOptions, settings: RenderSettings, deps: RenderRoleDeps) {
    this.log = deps.logger.child({ component: 'render' });
    this.settings = settings;
    // Compiles now: a daemon never starts on a template that does not compile.
    this.renderer = new EtaTemplateRenderer({
      templatePath: this.settings.templatePath,
      params: this.settings.params,
      colors: this.settings.rules.colors,
      logger: deps.logger,
    });
    this.driver = deps.driver;
    this.pipeline = new RenderPipeline({
      renderer: this.renderer,
      driver: this.driver,
      logger: deps.logger,
      metrics: deps.metrics,
      wait: o.wait,
      growthWait: o.growthWait,
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
    // A blocking query cannot tell a hung Consul from a quiet one; this short probe can.
    this.liveness = new ConsulLiveness({ probe: (signal) => deps.consul.catalogServices({ signal }) });
    const source = deps.traffic;
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

  /** For /healthz: Consul unreachable, no config applied yet, or the last applies failed (render-health.ts). */
  health(): PartHealth {
    const now = Date.now();
    return renderHealth({
      now,
      startedAt: this.startedAt ?? now,
      consul: this.liveness.state(),
      watchProblem: this.watcher.problem(),
      applies: this.pipeline.applyRecord(),
    });
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    try {
      await this.driver.start();
    } catch (err) {
      throw new ConfigError(`${errorMessage(err)} (set --config, or run with --no-render on a host without a proxy)`, {
        cause: err,
      });
    }
    await this.pipeline.start();
    await this.liveness.start();
    await this.watcher.start();
    await this.templateWatcher.start();
    await this.traffic?.start();
    this.log.info(
      `render role started: ${this.settings.kind} config ${this.settings.configPath} from template ${this.settings.templatePath}`,
    );
  }

  readonly close = once(() =>
    closeEach([
      ['the traffic publisher', () => this.traffic?.close() ?? Promise.resolve()],
      ['the template watcher', () => this.templateWatcher.close()],
      ['the Consul watch', () => this.watcher.close()],
      ['the Consul liveness probe', () => this.liveness.close()],
      ['the render pipeline', () => this.pipeline.close()],
      ['the proxy driver', () => this.driver.close()],
    ]),
  );
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric Switchyard exports, in one registry per daemon (tests make their own).
 * Parts take this object and count what they do; src/http serves it on /metrics.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly registrations = new Counter({
    name: 'switchyard_registrations_total',
    help: 'Consul service registrations by outcome (ok, error) and operation (register, deregister)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly registeredInstances = new Gauge({
    name: 'switchyard_registered_instances',
    help: 'Service instances this Switchyard currently owns in Consul',
    registers: [this.registry],
  });
  readonly skippedContainers = new Counter({
    name: 'switchyard_skipped_containers_total',
    help: 'Containers skipped because of an invalid label',
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'switchyard_reconciles_total',
    help: 'Desired-vs-actual reconciliations by trigger (start, reconnect, resync, agent-lost)',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });
  readonly dockerReconnects = new Counter({
    name: 'switchyard_docker_reconnects_total',
    help: 'Times the Docker event stream was reopened',
    registers: [this.registry],
  });
  readonly renders = new Counter({
    name: 'switchyard_renders_total',
    help: 'Template renders by outcome (changed, unchanged, error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'switchyard_reloads_total',
    help: 'Proxy reloads by outcome (ok, error)',
    labelNames: ['proxy', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly runtimeUpdates = new Counter({
    name: 'switchyard_runtime_updates_total',
    help: 'HAProxy Runtime API updates applied without a reload, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly checkerRejections = new Counter({
    name: 'switchyard_checker_rejections_total',
    help: 'Candidate configs the proxy checker rejected (never installed)',
    labelNames: ['proxy'] as const,
    registers: [this.registry],
  });
  readonly watchErrors = new Counter({
    name: 'switchyard_watch_errors_total',
    help: 'Failed Consul blocking queries, by watch kind',
    labelNames: ['watch'] as const,
    registers: [this.registry],
  });
  readonly switches = new Counter({
    name: 'switchyard_switches_total',
    help: 'Live-color changes seen by this render host, by action',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly eventToLive = new Histogram({
    name: 'switchyard_event_to_live_seconds',
    help: 'Time from a Consul change being seen to the proxy serving it',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lastApplySuccess = new Gauge({
    name: 'switchyard_last_apply_success_timestamp_seconds',
    help: 'When a config was last applied successfully',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }
}

import { runBlockingQuery } from '../consul/blocking-query.js';
import type { BlockingOptions, ConsulClient, HealthInstance, Indexed, KvEntry } from '../consul/consul-client.js';
import { ClosedError, errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import { formatMs } from '../time/duration.js';
import { buildSnapshot, type SnapshotRules } from '../snapshot/build-snapshot.js';
import { deepEqual } from '../snapshot/deep-equal.js';
import { snapshotsEqual } from '../snapshot/snapshot-diff.js';
import type { ServiceSnapshot, Snapshot } from '../snapshot/snapshot.js';
import { servicesPrefix, type ServiceState } from '../domain/service-state.js';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { readServiceStates, watchedServices } from './service-states.js';

export interface CatalogWatcherOptions {
  consul: ConsulClient;
  kvPrefix: string;
  rules: SnapshotRules;
  logger: Logger;
  metrics?: Metrics;
  /** Called with each new snapshot (never one equal to the last) and when its first change was seen. */
  onSnapshot(snapshot: Snapshot, seenAt: number): void;
  /** Consul blocking wait per query, ms. */
  waitMs?: number;
  /** Minimum time between two queries of one watch, ms (≥ 100). */
  minIntervalMs?: number;
  maxBackoffMs?: number;
  /**
   * After Consul comes back from an outage or an index reset, a snapshot that has lost every
   * instance of a service still served is held back this long, so agents that lost their state
   * can re-register before the proxy is emptied (consul-template #21, #727, #1131). 0 disables.
   */
  restartGraceMs?: number;
  clock?: Clock;
  random?: () => number;
}

export const DEFAULT_RESTART_GRACE_MS = 30_000;

type WatchKind = 'catalog' | 'health' | 'kv';

interface Watch {
  kind: WatchKind;
  what: string;
  controller: AbortController;
  /** Answered since it started or last failed: its data is current. */
  answered: boolean;
  done: Promise<void>;
}

/**
 * Watches Consul with blocking queries: the service list, the health of every watched service
 * (health watches start and end as services come and go) and the blue-green states under
 * `<kv-prefix>/services/`, and turns them into snapshots.
 *
 * The last snapshot stands while Consul fails: a snapshot is only emitted once every watch has
 * answered since its last failure or index reset, so a half-read or failed catalog never becomes an
 * "everything is empty" config.
 */
export class CatalogWatcher implements Lifecycle {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly watches = new Map<string, Watch>();
  private readonly health = new Map<string, readonly HealthInstance[]>();
  private states = new Map<string, ServiceState>();
  private readonly badStates = new Map<string, string>();
  private readonly loggedProblems = new Set<string>();
  private last: Snapshot | undefined;
  private pendingSince: number | undefined;
  private evaluateQueued = false;
  private degradedSince: number | undefined;
  private graceUntil = 0;
  private graceTimer: TimerHandle | undefined;
  private holdLogged = false;
  private started = false;
  private closed = false;

  constructor(private readonly options: CatalogWatcherOptions) {
    this.log = options.logger.child({ component: 'watch' });
    this.clock = options.clock ?? systemClock;
  }

  /** The last snapshot emitted, if any. */
  get snapshot(): Snapshot | undefined {
    return this.last;
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the Consul watcher is closed'));
    if (this.started) return Promise.resolve();
    this.started = true;
    const only = this.options.rules.services;
    if (only) for (const name of watchedServices({}, only)) this.startHealth(name);
    else this.startCatalog();
    this.startKv();
    this.log.info(
      only
        ? `watching Consul for services ${only.join(', ')} and their blue-green state`
        : 'watching the Consul catalog for services with colored instances, and their blue-green state',
    );
    return Promise.resolve();
  }

  readonly close = once(async (): Promise<void> => {
    this.closed = true;
    this.clock.clearTimeout(this.graceTimer);
    const loops = [...this.watches.values()];
    this.watches.clear();
    for (const w of loops) w.controller.abort();
    await Promise.all(loops.map((w) => w.done));
  });

  private startCatalog(): void {
    const fetch = (o: BlockingOptions) => this.options.consul.catalogServices(o);
    this.startWatch<Record<string, string[]>>('catalog', 'catalog', 'the service list', fetch, (catalog) => {
      const wanted = new Set(watchedServices(catalog));
      for (const name of wanted) if (!this.watches.has(`health:${name}`)) this.startHealth(name);
      for (const [key, w] of this.watches) {
        if (w.kind !== 'health') continue;
        const name = key.slice('health:'.length);
        if (wanted.has(name)) continue;
        w.controller.abort();
        this.watches.delete(key);
        this.health.delete(name);
        this.log.debug(`service ${name} left the catalog; stopped watching its health`, { service: name });
      }
    });
  }

  private startHealth(name: string): void {
    const fetch = (o: BlockingOptions) => this.options.consul.healthService(name, o);
    this.startWatch<HealthInstance[]>('health', `health:${name}`, `health of ${name}`, fetch, (instances) =>
      this.health.set(name, instances),
    );
  }

  private startKv(): void {
    const prefix = servicesPrefix(this.options.kvPrefix);
    const fetch = (o: BlockingOptions) => this.options.consul.kvList(prefix, o);
    this.startWatch<KvEntry[]>('kv', 'kv', `KV ${prefix}`, fetch, (entries) => {
      const { states, problems } = readServiceStates(entries, this.options.kvPrefix, this.states);
      const seen = new Set<string>();
      for (const p of problems) {
        seen.add(p.key);
        const raw = entries.find((e) => e.key === p.key)?.value ?? '';
        if (this.badStates.get(p.key) === raw) continue;
        this.badStates.set(p.key, raw);
        this.log.warn(
          `ignoring the blue-green state at ${p.key}: ${p.error}; ${p.kept ? `keeping the last good state for ${p.service} (live ${p.kept.live})` : `${p.service} has no good state yet, so its live color is derived from health`}`,
          { service: p.service, key: p.key },
        );
      }
      for (const key of this.badStates.keys()) if (!seen.has(key)) this.badStates.delete(key);
      this.states = states;
    });
  }

  /** Starts one blocking-query loop under `key`; `onChange` takes in changed data. */
  private startWatch<T>(
    kind: WatchKind,
    key: string,
    what: string,
    fetch: (options: BlockingOptions) => Promise<Indexed<T>>,
    onChange: (value: T) => void,
  ): void {
    const controller = new AbortController();
    const watch: Watch = { kind, what, controller, answered: false, done: Promise.resolve() };
    this.watches.set(key, watch);
    const current = () => this.watches.get(key) === watch && !this.closed;
    watch.done = runBlockingQuery<T>(
      {
        name: what,
        fetch,
        equals: deepEqual,
        waitMs: this.options.waitMs,
        minIntervalMs: this.options.minIntervalMs,
        maxBackoffMs: this.options.maxBackoffMs,
        clock: this.clock,
        random: this.options.random,
        onChange: (value) => {
          if (!current()) return;
          onChange(value);
          this.pendingSince ??= this.clock.now();
          this.scheduleEvaluate();
        },
        onAnswer: () => {
          if (!current()) return;
          watch.answered = true;
          this.scheduleEvaluate();
        },
        onError: (err, attempt, retryInMs) => {
          if (!current()) return;
          watch.answered = false;
          this.options.metrics?.watchErrors.inc({ watch: kind });
          const why = `Consul query for ${what} failed (${errorMessage(err)}); retrying in ${formatMs(retryInMs)}`;
          if (this.degradedSince === undefined) {
            this.degradedSince = this.clock.now();
            this.log.warn(`${why}. Keeping the last snapshot until Consul answers every watch again`, {
              watch: kind,
              attempt,
            });
          } else this.log.debug(why, { watch: kind, attempt });
        },
        onReset: (from, to) => {
          if (!current()) return;
          watch.answered = false;
          this.degradedSince ??= this.clock.now();
          this.log.info(
            `Consul index for ${what} went backwards (${from} → ${to}): Consul restarted or was restored; re-reading before rendering`,
            { watch: kind },
          );
        },
      },
      controller.signal,
    );
  }

  private scheduleEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    // Several watches often answer in one tick (a Consul restart, a new service): build once.
    queueMicrotask(() => {
      this.evaluateQueued = false;
      this.evaluate();
    });
  }

  private evaluate(): void {
    if (this.closed) return;
    const waiting = [...this.watches.values()].filter((w) => !w.answered);
    if (waiting.length > 0) return;
    const now = this.clock.now();
    if (this.degradedSince !== undefined) {
      this.log.info(
        `Consul answers every watch again after ${formatMs(now - this.degradedSince)}; rendering from the fresh catalog`,
      );
      this.degradedSince = undefined;
      const grace = this.options.restartGraceMs ?? DEFAULT_RESTART_GRACE_MS;
      if (this.last && grace > 0) {
        this.graceUntil = now + grace;
        this.holdLogged = false;
      }
    }

    const { snapshot, problems } = buildSnapshot({ health: this.health, states: this.states }, this.options.rules);
    for (const p of problems) {
      const key = `${p.service}|${p.instanceId}|${p.message}`;
      if (this.loggedProblems.has(key)) continue;
      this.loggedProblems.add(key);
      this.log.warn(`service ${p.service}, instance ${p.instanceId}: ${p.message}`, {
        service: p.service,
        instance: p.instanceId,
      });
    }
    if (this.loggedProblems.size > 10_000) this.loggedProblems.clear();

    if (this.last && snapshotsEqual(this.last, snapshot)) {
      this.pendingSince = undefined;
      return;
    }
    if (now < this.graceUntil && this.last) {
      const emptied = emptiedServices(this.last, snapshot);
      if (emptied.length > 0) {
        if (!this.holdLogged) {
          this.holdLogged = true;
          this.log.warn(
            `Consul came back without any instance of ${emptied.join(', ')}; keeping the last config for up to ${formatMs(this.graceUntil - now)} while agents re-register`,
          );
        }
        this.clock.clearTimeout(this.graceTimer);
        this.graceTimer = this.clock.setTimeout(() => this.scheduleEvaluate(), this.graceUntil - now);
        return;
      }
    }
    this.last = snapshot;
    const seenAt = this.pendingSince ?? now;
    this.pendingSince = undefined;
    this.options.onSnapshot(snapshot, seenAt);
  }
}

/** Services that had instances in `before` and have none in `after`. */
function emptiedServices(before: Snapshot, after: Snapshot): string[] {
  const now = new Map<string, ServiceSnapshot>(after.services.map((s) => [s.name, s]));
  return before.services
    .filter((s) => s.instances.length > 0 && (now.get(s.name)?.instances.length ?? 0) === 0)
    .map((s) => s.name);
}

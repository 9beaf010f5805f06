import { DEFAULT_MAX_BACKOFF_MS, MIN_QUERY_INTERVAL_MS, runBlockingQuery } from '../consul/blocking-query.js';
import type {
  BlockingOptions,
  ConsulClient,
  HealthInstance,
  Indexed,
  KvEntry,
  NodeCheck,
} from '../consul/consul-client.js';
import { ClosedError, errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, type Lifecycle } from '../lifecycle.js';
import { backoffMs } from '../time/backoff.js';
import type { Logger } from '../log/logger.js';
import { formatMs } from '../time/duration.js';
import { buildSnapshot, type SnapshotRules } from '../snapshot/build-snapshot.js';
import { deepEqual } from '../snapshot/deep-equal.js';
import { snapshotsEqual } from '../snapshot/snapshot-diff.js';
import type { ServiceSnapshot, Snapshot } from '../snapshot/snapshot.js';
import { servicesPrefix, type ServiceState } from '../domain/service-state.js';
import { clockSleep, systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { readServiceStates, watchedServices } from './service-states.js';
import { catalogMoveExplained, checkDigests, planRefresh, type CheckDigests } from './watch-plan.js';

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
/** Non-blocking per-service fetches run at most this many at a time. */
export const FETCH_CONCURRENCY = 8;
/**
 * Every watched service is fetched again this often, as a safety net for a catalog write that
 * neither watch can attribute (see watch-plan.ts). It costs what one blocking query per service
 * costs when each of them times out once per default wait.
 */
export const FULL_REFRESH_MS = 300_000;
const CHECK_INDEXES_KEPT = 1_000;

type WatchKind = 'catalog' | 'checks' | 'kv';

interface Watch {
  kind: WatchKind;
  what: string;
  controller: AbortController;
  /** Answered since it started or last failed: its data is current. */
  answered: boolean;
  done: Promise<void>;
}

/**
 * Watches Consul with a constant number of blocking queries, whatever the number of services: the
 * service list (`/v1/catalog/services`), every check (`/v1/health/state/any`) and the blue-green
 * states under `<kv-prefix>/services/`. When they move, only the services that changed are fetched
 * (non-blocking `/v1/health/service/:name`, a few at a time); watch-plan.ts decides which. The result
 * becomes snapshots.
 *
 * The last snapshot stands while Consul fails: a snapshot is only emitted once every watch has
 * answered since its last failure or index reset and every fetch it called for has succeeded, so a
 * half-read or failed catalog never becomes an "everything is empty" config.
 */
export class CatalogWatcher implements Lifecycle {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly watches = new Map<WatchKind, Watch>();
  private readonly health = new Map<string, readonly HealthInstance[]>();
  private states = new Map<string, ServiceState>();
  private readonly badStates = new Map<string, string>();
  private readonly loggedProblems = new Set<string>();

  // What the catalog-wide watches said last, and what the last plan was made from.
  private catalog: Record<string, string[]> | undefined;
  private catalogIndex = 0;
  private catalogIndexPlanned = 0;
  private digests: CheckDigests | undefined;
  private readonly checkIndexes = new Set<number>();
  private planned: { watched: string[]; tags: Record<string, string[]>; digests: CheckDigests } | undefined;

  // The fetches owed: services, everything, or a check of an unexplained catalog move first.
  private readonly pending = new Set<string>();
  private fullRefresh = false;
  private unexplained = false;
  private refreshing: Promise<void> | undefined;
  private refreshFailures = 0;
  private lastRefreshStart = Number.NEGATIVE_INFINITY;
  private fullRefreshTimer: TimerHandle | undefined;
  private readonly refreshAbort = new AbortController();

  private last: Snapshot | undefined;
  private pendingSince: number | undefined;
  private evaluateQueued = false;
  private planQueued = false;
  private degradedSince: number | undefined;
  private lastWatchError: string | undefined;
  private graceUntil = 0;
  private graceTimer: TimerHandle | undefined;
  private holdLogged = false;
  private started = false;
  private closed = false;

  constructor(private readonly options: CatalogWatcherOptions) {
    this.log = options.logger.child({ component: 'watch' });
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Since when some watch has not answered after a failure or an index reset, and the last failure:
   * undefined while every watch is current.
   */
  problem(): { since: number; message: string } | undefined {
    if (this.degradedSince === undefined) return undefined;
    return { since: this.degradedSince, message: this.lastWatchError ?? 'waiting for every watch to answer again' };
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
    this.startCatalog();
    this.startChecks();
    this.startKv();
    this.scheduleFullRefresh();
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
    this.clock.clearTimeout(this.fullRefreshTimer);
    this.refreshAbort.abort();
    const loops = [...this.watches.values()];
    this.watches.clear();
    for (const w of loops) w.controller.abort();
    await Promise.all([...loops.map((w) => w.done), this.refreshing]);
  });

  private startCatalog(): void {
    const fetch = (o: BlockingOptions) => this.options.consul.catalogServices(o);
    this.startWatch<Record<string, string[]>>(
      'catalog',
      'the service list',
      fetch,
      (catalog) => {
        this.catalog = catalog;
      },
      (index) => {
        // The index alone moves for writes the name → tags list does not show (an address changed).
        this.catalogIndex = index;
        this.schedulePlan();
      },
    );
  }

  private startChecks(): void {
    const fetch = (o: BlockingOptions) => this.options.consul.healthChecks(o);
    this.startWatch<NodeCheck[]>(
      'checks',
      'every health check',
      fetch,
      (checks, index) => this.takeChecks(checks, index),
      () => this.schedulePlan(),
    );
  }

  /**
   * New check data at `index`. Consul moves the checks index on every deregistration, checks or
   * not, so only an index at which the check data really changed can account for a catalog move.
   */
  private takeChecks(checks: readonly NodeCheck[], index: number): void {
    const digests = checkDigests(checks);
    if (!this.digests || !sameDigests(this.digests, digests)) this.rememberCheckIndex(index);
    this.digests = digests;
  }

  private startKv(): void {
    const prefix = servicesPrefix(this.options.kvPrefix);
    const fetch = (o: BlockingOptions) => this.options.consul.kvList(prefix, o);
    this.startWatch<KvEntry[]>('kv', `KV ${prefix}`, fetch, (entries) => {
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

  /** Starts one blocking-query loop; `onChange` takes in changed data, `onIndex` every answer's index. */
  private startWatch<T>(
    kind: WatchKind,
    what: string,
    fetch: (options: BlockingOptions) => Promise<Indexed<T>>,
    onChange: (value: T, index: number) => void,
    onIndex?: (index: number) => void,
  ): void {
    const controller = new AbortController();
    const watch: Watch = { kind, what, controller, answered: false, done: Promise.resolve() };
    this.watches.set(kind, watch);
    const current = () => this.watches.get(kind) === watch && !this.closed;
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
        onChange: (value, index) => {
          if (!current()) return;
          onChange(value, index);
          this.pendingSince ??= this.clock.now();
          this.scheduleEvaluate();
        },
        onAnswer: (index) => {
          if (!current()) return;
          watch.answered = true;
          onIndex?.(index);
          this.scheduleEvaluate();
        },
        onError: (err, attempt, retryInMs) => {
          if (!current()) return;
          watch.answered = false;
          this.options.metrics?.watchErrors.inc({ watch: kind });
          this.lastWatchError = `query for ${what} failed: ${errorMessage(err)}`;
          this.degraded(`Consul query for ${what} failed (${errorMessage(err)}); retrying in ${formatMs(retryInMs)}`, {
            watch: kind,
            attempt,
          });
          // What changed while we could not see it is unknown: read every service again.
          if (kind !== 'kv') this.fullRefresh = true;
          this.forgetIndexes(kind);
        },
        onReset: (from, to) => {
          if (!current()) return;
          watch.answered = false;
          this.degradedSince ??= this.clock.now();
          if (kind !== 'kv') this.fullRefresh = true;
          this.forgetIndexes(kind);
          this.log.info(
            `Consul index for ${what} went backwards (${from} → ${to}): Consul restarted or was restored; re-reading before rendering`,
            { watch: kind },
          );
        },
      },
      controller.signal,
    );
  }

  private degraded(why: string, fields: Record<string, unknown>): void {
    if (this.degradedSince === undefined) {
      this.degradedSince = this.clock.now();
      this.log.warn(`${why}. Keeping the last snapshot until Consul answers every watch again`, fields);
    } else this.log.debug(why, fields);
  }

  /**
   * After a failure or an index reset the indexes seen so far may belong to a Consul that is gone: a
   * restarted agent counts again from a low index. Kept, the catalog's last planned index would hide
   * every move below it (an instance without checks registered into a known service went unseen
   * until the new index passed the old one), and an old check index could wrongly explain a new
   * catalog move. The full read the failure already asks for covers what happened meanwhile.
   */
  private forgetIndexes(kind: WatchKind): void {
    if (kind === 'catalog') this.catalogIndexPlanned = 0;
    else if (kind === 'checks') this.checkIndexes.clear();
  }

  private rememberCheckIndex(index: number): void {
    this.checkIndexes.add(index);
    if (this.checkIndexes.size > CHECK_INDEXES_KEPT) {
      const oldest = this.checkIndexes.values().next().value;
      if (oldest !== undefined) this.checkIndexes.delete(oldest);
    }
  }

  private scheduleFullRefresh(): void {
    this.fullRefreshTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.fullRefresh = true;
      this.kickRefresh();
      this.scheduleFullRefresh();
    }, FULL_REFRESH_MS);
  }

  private schedulePlan(): void {
    if (this.planQueued) return;
    this.planQueued = true;
    // Both catalog-wide watches often answer for one write: plan once.
    queueMicrotask(() => {
      this.planQueued = false;
      this.plan();
    });
  }

  /** Compares what the catalog-wide watches say now with what the last plan was made from. */
  private plan(): void {
    if (this.closed || !this.catalog || !this.digests) return;
    const watched = watchedServices(this.catalog, this.options.rules.services);
    const before = this.planned ?? { watched: [], tags: {}, digests: checkDigests([]) };
    const { fetch, drop } = planRefresh({
      before: before.watched,
      after: watched,
      tagsBefore: before.tags,
      tagsAfter: this.catalog,
      checksBefore: before.digests,
      checksAfter: this.digests,
      health: this.health,
    });
    for (const name of drop) {
      this.health.delete(name);
      this.pending.delete(name);
      this.log.debug(`service ${name} left the catalog`, { service: name });
    }
    for (const name of fetch) this.pending.add(name);
    // Any move, either way: a restarted Consul counts again from a low index.
    if (this.catalogIndex !== this.catalogIndexPlanned) {
      if (this.planned && !catalogMoveExplained(this.catalogIndex, this.checkIndexes, this.digests))
        this.unexplained = true;
      this.catalogIndexPlanned = this.catalogIndex;
    }
    this.planned = { watched, tags: this.catalog, digests: this.digests };
    if (fetch.length > 0 || drop.length > 0) this.pendingSince ??= this.clock.now();
    this.kickRefresh();
  }

  private kickRefresh(): void {
    if (this.refreshing || this.closed) return;
    if (this.pending.size === 0 && !this.fullRefresh && !this.unexplained) return;
    this.refreshing = this.refresh().finally(() => {
      this.refreshing = undefined;
      this.scheduleEvaluate();
    });
  }

  /** Runs the owed fetches until none is owed; retries with backoff while Consul fails. */
  private async refresh(): Promise<void> {
    const signal = this.refreshAbort.signal;
    const minIntervalMs = Math.max(this.options.minIntervalMs ?? MIN_QUERY_INTERVAL_MS, MIN_QUERY_INTERVAL_MS);
    while (!this.closed && (this.pending.size > 0 || this.fullRefresh || this.unexplained)) {
      const sinceLast = this.clock.now() - this.lastRefreshStart;
      if (sinceLast < minIntervalMs && !(await clockSleep(this.clock, minIntervalMs - sinceLast, signal))) return;
      this.lastRefreshStart = this.clock.now();
      try {
        if (this.unexplained) await this.checkUnexplained();
        const names = this.fullRefresh
          ? watchedServices(this.catalog ?? {}, this.options.rules.services)
          : [...this.pending].sort();
        this.fullRefresh = false;
        this.pending.clear();
        await this.fetchServices(names, signal);
        this.refreshFailures = 0;
      } catch (err) {
        if (this.closed) return;
        const retryInMs = backoffMs(this.refreshFailures, 250, this.options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
        this.refreshFailures += 1;
        this.options.metrics?.watchErrors.inc({ watch: 'health' });
        this.degraded(
          `Consul fetch of changed services failed (${errorMessage(err)}); retrying in ${formatMs(retryInMs)}`,
          {
            watch: 'health',
            attempt: this.refreshFailures,
          },
        );
        if (!(await clockSleep(this.clock, retryInMs, signal))) return;
      }
    }
  }

  /**
   * The catalog moved and no check change accounts for it. The check watch may simply not have
   * answered for the same write yet: read the checks once, non-blocking; if that still does not
   * account for it, the write touched only the services table, and every service is read again.
   */
  private async checkUnexplained(): Promise<void> {
    const { index, value } = await this.options.consul.healthChecks();
    this.unexplained = false;
    this.takeChecks(value, index);
    this.plan();
    this.unexplained = false;
    if (!this.digests || !catalogMoveExplained(this.catalogIndexPlanned, this.checkIndexes, this.digests)) {
      this.log.debug(
        `the service list moved (index ${this.catalogIndexPlanned}) without a check change to say which service: reading every service`,
      );
      this.fullRefresh = true;
    }
  }

  /** Non-blocking health of each named service, a few at a time; any failure puts every name back. */
  private async fetchServices(names: readonly string[], signal: AbortSignal): Promise<void> {
    const queue = [...names];
    const results = new Map<string, HealthInstance[]>();
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined && !signal.aborted; name = queue.shift())
        results.set(name, (await this.options.consul.healthService(name)).value);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, names.length) }, worker));
    } catch (err) {
      for (const n of names) this.pending.add(n);
      throw err;
    }
    const watched = new Set(this.planned?.watched ?? []);
    let changed = false;
    for (const [name, instances] of results) {
      // A service that left the list while its fetch was in flight stays gone.
      if (!watched.has(name)) continue;
      const before = this.health.get(name);
      if (before && deepEqual(before, instances)) continue;
      this.health.set(name, instances);
      changed = true;
    }
    if (changed) this.pendingSince ??= this.clock.now();
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
    if (waiting.length > 0 || !this.planned) return;
    if (this.refreshing || this.pending.size > 0 || this.fullRefresh || this.unexplained) return;
    const now = this.clock.now();
    if (this.degradedSince !== undefined) {
      this.log.info(
        `Consul answers every watch again after ${formatMs(now - this.degradedSince)}; rendering from the fresh catalog`,
      );
      this.degradedSince = undefined;
      this.lastWatchError = undefined;
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

function sameDigests(a: CheckDigests, b: CheckDigests): boolean {
  const same = (x: ReadonlyMap<string, string>, y: ReadonlyMap<string, string>) =>
    x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
  return same(a.services, b.services) && same(a.nodes, b.nodes);
}

/** Services that had instances in `before` and have none in `after`. */
function emptiedServices(before: Snapshot, after: Snapshot): string[] {
  const now = new Map<string, ServiceSnapshot>(after.services.map((s) => [s.name, s]));
  return before.services
    .filter((s) => s.instances.length > 0 && (now.get(s.name)?.instances.length ?? 0) === 0)
    .map((s) => s.name);
}

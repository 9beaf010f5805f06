import type { AgentService, CheckStatus, ConsulClient, ServiceRegistration } from '../consul/consul-client.js';
import type { ContainerInfo, DockerClient, DockerEvent } from '../docker/docker-client.js';
import { sinceFromNanos } from '../docker/event-lines.js';
import { ClosedError, ConsulError, LabelError, errorMessage } from '../errors.js';
import type { HealthReporter, PartHealth } from '../http/health.js';
import type { Metrics } from '../http/metrics.js';
import { once, withTimeout, type Lifecycle } from '../lifecycle.js';
import { backoffMs } from '../time/backoff.js';
import { sleep } from '../time/sleep.js';
import { containerFields, type Logger } from '../log/logger.js';
import { ConsulGate } from './consul-gate.js';
import { ContainerLanes } from './container-lanes.js';
import { META_CONTAINER_ID, META_CONTAINER_NAME } from './meta-keys.js';
import { dockerHealthCheckId, healthNotes, serviceDefinitions, type DefinitionOptions } from './service-definitions.js';
import { asAgentService, diffServices, isOwnedBy } from './service-diff.js';

export interface RegistrarOptions extends Omit<DefinitionOptions, 'owner' | 'healthTtl'> {
  /** Owner id; default the local Consul agent's node name. */
  nodeId?: string;
  /** Full reconcile interval. */
  resyncMs: number;
  /** How often to ask the agent whether it still holds our services (cheap); default min(5s, resync). */
  agentCheckMs?: number;
  deregisterOnExit: boolean;
  /** Bound on close(). */
  closeTimeoutMs?: number;
  /** How long a killed-but-still-running container stays drained before it is put back. */
  drainTimeoutMs?: number;
  /** Parallel lanes (different containers) at once. */
  concurrency?: number;
}

export interface RegistrarDeps {
  docker: DockerClient;
  consul: ConsulClient;
  logger: Logger;
  metrics: Metrics;
}

type Trigger = 'start' | 'reconnect' | 'resync' | 'agent-lost';

/** TTL of the Docker-health check: long, so a stopped Switchyard never turns healthy instances critical. */
const HEALTH_TTL = '72h';
const HEALTH_REFRESH_MS = 6 * 3_600_000;
/** Signals after which a container is expected to exit (docker stop/kill, compose down): drain then. */
const TERMINATING_SIGNALS = new Set([
  '2',
  '3',
  '9',
  '15',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGTERM',
  'INT',
  'QUIT',
  'KILL',
  'TERM',
]);
const SYNC_ACTIONS = new Set([
  'create',
  'start',
  'restart',
  'die',
  'stop',
  'destroy',
  'pause',
  'unpause',
  'rename',
  'kill',
  'update',
]);

/**
 * The register role: Docker events and periodic reconciliation → the local Consul agent. See
 * docs/registering.md for the behaviour users rely on.
 *
 * Every change to a container goes through its lane (ContainerLanes, keyed by container name) as
 * "bring this container's registrations in line with what Docker says now"; the event loop only
 * schedules, so it never falls behind Docker's event buffer.
 */
export class Registrar implements Lifecycle, HealthReporter {
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly lanes: ContainerLanes;
  private readonly gate: ConsulGate;
  private owner = '';
  /** What we believe the agent holds for us, by service ID. */
  private readonly owned = new Map<string, AgentService>();
  /** Per service ID: the write sequence number of the last change we made (see refreshOwned). */
  private readonly touched = new Map<string, number>();
  private seq = 0;
  private readonly foreign = new Set<string>();
  private readonly draining = new Map<string, number>();
  private readonly inMaintenance = new Set<string>();
  private readonly lastHealth = new Map<string, { status: CheckStatus; at: number }>();
  /** Containers already warned about (container id → message), so a bad label warns once. */
  private readonly warned = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private lastEventNano: bigint | undefined;
  private mainLoop: Promise<void> | undefined;
  private timers: Promise<void>[] = [];
  private reconciling: Promise<void> | undefined;
  private reconcileAgain: Trigger | undefined;
  private startedResolve: () => void = () => undefined;
  private reconciledOnce = false;
  private streamDownSince: Date | undefined;
  /** Resolves after the first complete reconcile (tests and the bench wait on it). */
  readonly ready: Promise<void> = new Promise((r) => (this.startedResolve = r));

  constructor(
    private readonly deps: RegistrarDeps,
    private readonly options: RegistrarOptions,
  ) {
    this.log = deps.logger.child({ component: 'registrar' });
    this.lanes = new ContainerLanes((key, ids) => this.syncBatch(key, ids), options.concurrency ?? 8);
    this.gate = new ConsulGate(
      async () => {
        await deps.consul.agentServices();
      },
      {
        down: (err) =>
          this.log.warn(`Consul agent unreachable (${errorMessage(err)}); holding changes and retrying with backoff`),
        stillDown: (err, attempt) =>
          // Every tenth failed probe at warn: visible, but no flood during a long outage.
          this.log.log(
            attempt % 10 === 0 ? 'warn' : 'debug',
            `Consul agent still unreachable after ${attempt} attempts: ${errorMessage(err)}`,
          ),
        up: (ms) => {
          this.log.info(`Consul agent reachable again after ${Math.round(ms / 1000)} s; reconciling`);
          void this.reconcile('agent-lost');
        },
      },
      this.abort.signal,
    );
  }

  get nodeId(): string {
    return this.owner;
  }

  /** Services this registrar believes it holds (for status output and tests). */
  get ownedServices(): AgentService[] {
    return [...this.owned.values()];
  }

  /** For /healthz: unhealthy while the Docker event stream or the Consul agent is down. */
  health(): PartHealth {
    if (!this.reconciledOnce)
      return { status: 'starting', message: 'waiting for Docker and the Consul agent to answer a first reconcile' };
    if (this.streamDownSince)
      return {
        status: 'unhealthy',
        message: 'the Docker event stream is down; reconnecting with backoff',
        since: this.streamDownSince.toISOString(),
      };
    if (this.gate.isDown)
      return { status: 'unhealthy', message: 'the Consul agent is unreachable; changes are held and retried' };
    return { status: 'ok', message: `${this.owned.size} services registered for this host` };
  }

  start(): Promise<void> {
    this.mainLoop ??= this.run().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.error(`registrar stopped unexpectedly: ${errorMessage(err)}`);
    });
    return Promise.resolve();
  }

  readonly close = once(async (): Promise<void> => {
    this.abort.abort();
    const bound = this.options.closeTimeoutMs ?? 8_000;
    const deadline = Date.now() + bound;
    try {
      await withTimeout(Promise.all([this.mainLoop, ...this.timers, this.lanes.onIdle()]), bound, 'the registrar');
    } catch (err) {
      this.log.warn(`stopping: ${errorMessage(err)}; abandoning in-flight work`);
    }
    this.lanes.close();
    if (this.options.deregisterOnExit && this.owner) {
      const ids = [...this.owned.keys()];
      let removed = 0;
      const left = Math.max(1000, deadline - Date.now());
      try {
        await withTimeout(
          Promise.all(
            ids.map(async (id) => {
              await this.deps.consul.deregisterService(id);
              removed++;
              this.owned.delete(id);
            }),
          ),
          left,
          'deregistering on exit',
        );
        this.log.info(`deregistered all ${removed} services this node owns (--deregister-on-exit)`);
      } catch (err) {
        this.log.warn(
          `deregistered ${removed} of ${ids.length} services on exit: ${errorMessage(err)}; the next start removes the rest`,
        );
      }
    } else if (this.owned.size > 0) {
      this.log.info(
        `leaving ${this.owned.size} registrations in place (start with --deregister-on-exit to remove them)`,
      );
    }
  });

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    this.owner = await this.resolveOwner();
    if (!this.owner) return;
    this.log.info(`registering containers on this host as owner "${this.owner}"`, { owner: this.owner });
    this.timers.push(this.every(this.options.resyncMs, () => this.reconcile('resync')));
    this.timers.push(
      this.every(this.options.agentCheckMs ?? Math.min(5_000, this.options.resyncMs), () => this.checkAgent()),
    );

    let attempt = 0;
    let connects = 0;
    while (!signal.aborted) {
      const streamAbort = new AbortController();
      const streamSignal = AbortSignal.any([signal, streamAbort.signal]);
      // On the first connection, ask for events from a moment before now: Docker replays what
      // happened between the subscription and the listing, so nothing slips between them.
      const since =
        this.lastEventNano !== undefined
          ? sinceFromNanos(this.lastEventNano)
          : sinceFromNanos(BigInt(Date.now() - 2_000) * 1_000_000n);
      const trigger: Trigger = connects === 0 ? 'start' : 'reconnect';
      if (connects > 0) this.deps.metrics.dockerReconnects.inc();
      connects++;
      let failure: unknown;
      try {
        const iterator = this.deps.docker.events({ since, signal: streamSignal })[Symbol.asyncIterator]();
        // Open the subscription (the first next() sends the request), then list and reconcile.
        let next = iterator.next();
        const reconciled = this.reconcile(trigger).then(
          (ok) => {
            if (ok && !streamSignal.aborted) {
              attempt = 0;
              this.streamDownSince = undefined;
            }
          },
          () => undefined,
        );
        for (;;) {
          const r = await next;
          if (r.done) break;
          this.onEvent(r.value);
          next = iterator.next();
        }
        void reconciled;
      } catch (err) {
        failure = err;
      }
      if (signal.aborted) break;
      streamAbort.abort();
      this.streamDownSince ??= new Date();
      const wait = backoffMs(attempt++, 500, 15_000);
      this.log.warn(
        failure
          ? `Docker event stream failed (${errorMessage(failure)}); reconnecting in ${wait} ms, then replaying missed events and reconciling`
          : `Docker event stream ended (dockerd restarting?); reconnecting in ${wait} ms, then replaying missed events and reconciling`,
      );
      if (!(await sleep(wait, signal))) break;
    }
  }

  private async resolveOwner(): Promise<string> {
    if (this.options.nodeId) return this.options.nodeId;
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        return await this.deps.consul.agentNodeName();
      } catch (err) {
        const wait = backoffMs(attempt, 500, 15_000);
        this.log.warn(
          `cannot ask the Consul agent for its node name (the owner id) yet: ${errorMessage(err)}; retrying in ${wait} ms`,
        );
        if (!(await sleep(wait, this.abort.signal))) break;
      }
    }
    return '';
  }

  private every(ms: number, fn: () => Promise<unknown>): Promise<void> {
    return (async () => {
      while (await sleep(ms, this.abort.signal)) {
        try {
          await fn();
        } catch (err) {
          this.log.warn(errorMessage(err));
        }
      }
    })();
  }

  /** Runs on the event loop: cheap bookkeeping and scheduling only. */
  private onEvent(e: DockerEvent): void {
    this.lastEventNano = e.timeNano;
    const action = (e.action.split(':')[0] ?? '').trim();
    if (!SYNC_ACTIONS.has(action) && action !== 'health_status') return;
    const name = e.attributes.name ?? this.names.get(e.id) ?? e.id;
    this.names.set(e.id, name);
    const ref = { id: e.id, name };
    if (action === 'kill') {
      const sig = e.attributes.signal ?? '';
      if (!TERMINATING_SIGNALS.has(sig)) return;
      if (!this.draining.has(e.id) && this.ownsContainer(e.id))
        this.log.info(
          // SIGKILL leaves nothing to drain: say so rather than promise a graceful exit.
          ['9', 'KILL', 'SIGKILL'].includes(sig)
            ? `container killed (signal ${sig}): taking its services out of rotation at once`
            : `draining: container received signal ${sig}, taking its services out of rotation before it exits`,
          containerFields(ref),
        );
      this.draining.set(e.id, Date.now());
    } else if (action === 'start' || action === 'unpause' || action === 'restart') {
      this.draining.delete(e.id);
    }
    if (action === 'destroy') {
      // Gone for good: forget what was kept about it, so a long-lived daemon does not grow.
      this.names.delete(e.id);
      this.draining.delete(e.id);
      this.warned.delete(e.id);
    }
    this.log.debug(`docker event ${e.action}`, containerFields(ref));
    void this.lanes.schedule(name, e.id);
  }

  private ownsContainer(id: string): boolean {
    for (const s of this.owned.values()) if (s.meta[META_CONTAINER_ID] === id) return true;
    return false;
  }

  /**
   * Brings the agent in line with Docker in both directions. Only one runs at a time; a request
   * while one runs makes it run once more afterwards. Resolves true when it completed.
   */
  reconcile(trigger: Trigger): Promise<boolean> {
    if (this.reconciling) {
      this.reconcileAgain = trigger;
      return this.reconciling.then(() => true);
    }
    const run = (async () => {
      let t: Trigger | undefined = trigger;
      let ok = false;
      while (t && !this.abort.signal.aborted) {
        this.reconcileAgain = undefined;
        ok = await this.reconcileOnce(t);
        t = this.reconcileAgain;
      }
      return ok;
    })();
    this.reconciling = run.then(() => undefined);
    return run.finally(() => {
      this.reconciling = undefined;
    });
  }

  private async reconcileOnce(trigger: Trigger): Promise<boolean> {
    if (!this.owner) return false;
    const started = Date.now();
    const before = { ...this.counts };
    let containers;
    try {
      containers = await this.deps.docker.listContainers();
    } catch (err) {
      this.log.warn(`cannot list containers to reconcile (${trigger}): ${errorMessage(err)}`);
      return false;
    }
    if (!(await this.refreshOwned())) return false;
    this.deps.metrics.reconciles.inc({ trigger });
    const running = new Map(containers.map((c) => [c.id, c.name]));
    for (const [id, name] of running) this.names.set(id, name);
    const ghosts = new Map<string, string>();
    for (const s of this.owned.values()) {
      const cid = s.meta[META_CONTAINER_ID] ?? '';
      if (running.has(cid)) continue;
      const name = s.meta[META_CONTAINER_NAME] ?? cid;
      ghosts.set(cid, name);
      // Log lines about a ghost name the container it belonged to, though Docker forgot it.
      if (!this.names.has(cid)) this.names.set(cid, name);
    }
    await Promise.all([
      ...[...running].map(([id, name]) => this.lanes.schedule(name, id)),
      ...[...ghosts].map(([id, name]) => this.lanes.schedule(name, id)),
    ]);
    const reg = this.counts.registered - before.registered;
    const dereg = this.counts.deregistered - before.deregistered;
    const line = `reconciled (${trigger}) in ${Date.now() - started} ms: ${running.size} running containers, ${this.owned.size} services owned, ${reg} registered, ${dereg} deregistered`;
    if (reg > 0 || dereg > 0 || trigger !== 'resync') this.log.info(line, { trigger });
    else this.log.debug(line, { trigger });
    this.reconciledOnce = true;
    this.startedResolve();
    return true;
  }

  private readonly counts = { registered: 0, deregistered: 0 };

  /**
   * Replaces our belief about the agent with what it reports, except for services a lane changed
   * while the request was in flight (those are newer than the answer).
   */
  private async refreshOwned(): Promise<boolean> {
    const seqBefore = this.seq;
    let all: AgentService[];
    try {
      if (!(await this.gate.ready())) return false;
      all = await this.deps.consul.agentServices();
    } catch (err) {
      this.consulFailed(err);
      return false;
    }
    const fresh = (id: string) => (this.touched.get(id) ?? -1) > seqBefore;
    this.foreign.clear();
    const ours = new Map<string, AgentService>();
    for (const s of all) {
      if (isOwnedBy(s, this.owner)) ours.set(s.id, s);
      else this.foreign.add(s.id);
    }
    for (const id of [...this.owned.keys()]) if (!ours.has(id) && !fresh(id)) this.forget(id);
    for (const [id, s] of ours) if (!fresh(id)) this.owned.set(id, s);
    this.deps.metrics.registeredInstances.set(this.owned.size);
    return true;
  }

  private forget(id: string): void {
    this.owned.delete(id);
    this.inMaintenance.delete(id);
    this.lastHealth.delete(id);
  }

  /** The periodic cheap check: has the agent lost services we registered (restart without state)? */
  private async checkAgent(): Promise<void> {
    if (!this.owner || this.gate.isDown || this.owned.size === 0) return;
    const seqBefore = this.seq;
    let ids: Set<string>;
    try {
      ids = new Set((await this.deps.consul.agentServices()).map((s) => s.id));
    } catch (err) {
      this.consulFailed(err);
      return;
    }
    // A service a lane changed while the request was in flight is not evidence of a loss.
    const missing = [...this.owned.keys()].filter((id) => !ids.has(id) && (this.touched.get(id) ?? -1) <= seqBefore);
    if (missing.length > 0) {
      this.log.warn(
        `the Consul agent no longer has ${missing.length} of our ${this.owned.size} services (agent restarted without its state?); registering them again`,
        { missing: missing.slice(0, 10) },
      );
      await this.reconcile('agent-lost');
    }
  }

  private consulFailed(err: unknown): void {
    if (err instanceof ClosedError || this.abort.signal.aborted) return;
    // No status (connection refused, timeout) or a 5xx: the agent is down or sick, not our request.
    if (!(err instanceof ConsulError) || err.statusCode === undefined || err.statusCode >= 500) this.gate.fail(err);
    else this.log.warn(errorMessage(err));
  }

  /** A lane's key is the container's name, which a destroyed container's log lines still need. */
  private async syncBatch(name: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) await this.syncContainer(id, name);
  }

  /** Makes one container's registrations match what Docker says about it now; retries while Consul is down. */
  private async syncContainer(id: string, laneName: string): Promise<void> {
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      let info: ContainerInfo | undefined;
      try {
        info = await this.deps.docker.inspectContainer(id);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (attempt >= 3) {
          this.log.warn(
            `cannot inspect container ${id.slice(0, 12)}: ${errorMessage(err)}; the next reconcile retries`,
            {
              containerId: id.slice(0, 12),
            },
          );
          return;
        }
        await sleep(backoffMs(attempt, 250, 2_000), this.abort.signal);
        continue;
      }
      if (!(await this.gate.ready())) return;
      try {
        await this.apply(id, info, laneName);
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (err instanceof ConsulError && err.statusCode !== undefined && err.statusCode < 500) {
          const ref = { id, name: info?.name ?? this.names.get(id) ?? laneName };
          this.log.error(`Consul refused a change for this container: ${errorMessage(err)}`, containerFields(ref));
          return;
        }
        this.consulFailed(err);
      }
    }
  }

  private desiredFor(id: string, info: ContainerInfo | undefined): ServiceRegistration[] {
    if (!info || !info.running) return [];
    const ref = containerFields(info);
    try {
      const defs = serviceDefinitions(info, { ...this.options, owner: this.owner, healthTtl: HEALTH_TTL });
      if (!defs.selected) {
        this.warned.delete(id);
        return [];
      }
      for (const note of defs.notes) this.warnOnce(id, `not registering: ${note}`, ref);
      if (defs.notes.length === 0) this.warned.delete(id);
      return defs.services;
    } catch (err) {
      if (!(err instanceof LabelError)) throw err;
      if (this.warnOnce(id, `skipping container: ${err.message}`, { ...ref, label: err.label }))
        this.deps.metrics.skippedContainers.inc();
      return [];
    }
  }

  private warnOnce(id: string, message: string, fields: Record<string, string>): boolean {
    if (this.warned.get(id) === message) return false;
    this.warned.set(id, message);
    this.log.warn(message, fields);
    return true;
  }

  private async apply(id: string, info: ContainerInfo | undefined, laneName: string): Promise<void> {
    const ref = { id, name: info?.name ?? this.names.get(id) ?? laneName };
    const fields = containerFields(ref);
    const desired = this.desiredFor(id, info);
    const current = [...this.owned.values()].filter((s) => s.meta[META_CONTAINER_ID] === id);
    // Another container may hold one of these IDs right now (a name reused by compose): that one
    // is in `owned` under the same ID and is overwritten by the register below, as it should be.
    const sameIds = desired.map((d) => this.owned.get(d.id)).filter((s): s is AgentService => s !== undefined);
    const actual = [...current, ...sameIds.filter((s) => !current.includes(s))];
    for (const d of desired) if (this.foreign.has(d.id)) actual.push({ ...asAgentService(d), meta: {} });
    const plan = diffServices(desired, actual, this.owner);

    for (const c of plan.conflicts)
      this.warnOnce(
        id,
        `not registering ${c.id}: the agent holds a service with this ID that Switchyard does not own`,
        { ...fields, serviceId: c.id },
      );

    const why = !info
      ? 'the container no longer exists'
      : !info.running
        ? 'the container is not running'
        : 'no longer part of the container’s definition';
    for (const s of plan.deregister) {
      await this.op('deregister', () => this.deps.consul.deregisterService(s.id));
      this.forget(s.id);
      this.touched.set(s.id, ++this.seq);
      this.counts.deregistered++;
      this.log.info(`deregistered ${s.name} (${s.id}): ${why}`, { ...fields, service: s.name, serviceId: s.id });
    }

    const draining = this.draining.get(id);
    const drainTimeout = this.options.drainTimeoutMs ?? 600_000;
    if (draining !== undefined && info?.running && Date.now() - draining > drainTimeout) {
      this.log.warn(
        `container still running ${Math.round(drainTimeout / 1000)} s after its stop signal; putting it back in rotation`,
        fields,
      );
      this.draining.delete(id);
    }
    const isDraining = this.draining.has(id) && info?.running === true;

    for (const d of plan.register) {
      await this.op('register', () => this.deps.consul.registerService(d));
      this.owned.set(d.id, asAgentService(d));
      this.touched.set(d.id, ++this.seq);
      const hc = d.checks.find((c) => c.checkId === dockerHealthCheckId(d.id));
      if (hc?.status) this.lastHealth.set(d.id, { status: hc.status, at: Date.now() });
      this.counts.registered++;
      this.log.info(
        `registered ${d.name}${d.meta.color ? ` (${d.meta.color})` : ''} at ${d.address || '<agent address>'}:${d.port}`,
        { ...fields, service: d.name, serviceId: d.id, address: d.address, port: d.port, tags: d.tags.join(',') },
      );
    }
    this.deps.metrics.registeredInstances.set(this.owned.size);

    for (const d of desired) {
      if (!this.owned.has(d.id)) continue;
      if (isDraining && !this.inMaintenance.has(d.id)) {
        await this.op('maintenance', () =>
          this.deps.consul.setServiceMaintenance(d.id, true, 'switchyard: container is stopping (drain)'),
        );
        this.inMaintenance.add(d.id);
        this.log.info(`drained ${d.name} (${d.id}): in maintenance until the container exits`, {
          ...fields,
          service: d.name,
          serviceId: d.id,
        });
      } else if (!isDraining && this.inMaintenance.has(d.id)) {
        await this.op('maintenance', () =>
          this.deps.consul.setServiceMaintenance(d.id, false, 'switchyard: container running again'),
        );
        this.inMaintenance.delete(d.id);
        this.log.info(`back in rotation: ${d.name} (${d.id})`, { ...fields, service: d.name, serviceId: d.id });
      }
      if (info?.health) {
        const want: CheckStatus = info.health === 'healthy' ? 'passing' : 'critical';
        const last = this.lastHealth.get(d.id);
        if (!last || last.status !== want || Date.now() - last.at > HEALTH_REFRESH_MS) {
          await this.op('health', () =>
            this.deps.consul.updateTtlCheck(dockerHealthCheckId(d.id), want, healthNotes(info.health!)),
          );
          if (last && last.status !== want)
            this.log.info(`Docker health of ${d.name} is now ${info.health}: check ${want}`, {
              ...fields,
              service: d.name,
              serviceId: d.id,
            });
          this.lastHealth.set(d.id, { status: want, at: Date.now() });
        }
      }
    }
  }

  private async op(operation: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.deps.metrics.registrations.inc({ operation, outcome: 'ok' });
    } catch (err) {
      this.deps.metrics.registrations.inc({ operation, outcome: 'error' });
      throw err;
    }
  }
}

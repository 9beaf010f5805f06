import type { ConsulClient, ServiceRegistration } from '../consul/consul-client.js';
import type { ContainerInfo, DockerClient, DockerEvent } from '../docker/docker-client.js';
import { ClosedError, ConsulError, LabelError, errorMessage } from '../errors.js';
import type { HealthReporter, PartHealth } from '../http/health.js';
import type { Metrics } from '../http/metrics.js';
import { once, withTimeout, type Lifecycle } from '../lifecycle.js';
import { backoffMs } from '../time/backoff.js';
import { sleep } from '../time/sleep.js';
import { containerFields, type Logger } from '../log/logger.js';
import { CoalescedRun } from './coalesced-run.js';
import { ConsulGate } from './consul-gate.js';
import { ContainerLanes } from './container-lanes.js';
import { DockerEventFollower } from './docker-event-follower.js';
import { META_CONTAINER_ID, META_CONTAINER_NAME } from './meta-keys.js';
import { OwnedServices } from './owned-services.js';
import { allowsLiveMix, isHoldReason, type LiveColorSource, type LiveColorView } from './live-color-guard.js';
import { eventEffect, planContainer, servicesToGuard, type RegistrarOp } from './registration-plan.js';
import { serviceDefinitions, type DefinitionOptions } from './service-definitions.js';

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
  /** Let any image into the live color (the live-color guard off). */
  allowLiveMix?: boolean;
}

export interface RegistrarDeps {
  docker: DockerClient;
  consul: ConsulClient;
  logger: Logger;
  metrics: Metrics;
  /** The live color of a service and its instances, cluster-wide, for the live-color guard. */
  liveColors: LiveColorSource;
}

type Trigger = 'start' | 'reconnect' | 'resync' | 'agent-lost';

/** TTL of the Docker-health check: long, so a stopped Switchyard never turns healthy instances critical. */
const HEALTH_TTL = '72h';
/** Rewrites of an unchanged Docker-health status, well inside HEALTH_TTL. */
const HEALTH_REFRESH_MS = 6 * 3_600_000;
const RELEASE_WHY = {
  'not-live': 'its color is no longer the live one',
  'no-other-instance': 'no instance of another version is live any more',
  'same-version': 'the live color now runs its version',
  allowed: 'mixing versions in the live color is allowed (--allow-live-mix or its label)',
} as const;
/** A container still running this long after its stop signal ignored it: back in rotation. */
const DEFAULT_DRAIN_TIMEOUT_MS = 600_000;

/**
 * The register role: Docker events and periodic reconciliation → the local Consul agent. See
 * docs/registering.md for the behaviour users rely on.
 *
 * The parts: DockerEventFollower (the event stream and its reconnects), ContainerLanes (one lane
 * per container name, so work on a container never reorders), OwnedServices (what the agent holds
 * for us), ConsulGate (holding every lane while the agent is down), CoalescedRun (one reconcile at a
 * time) and planContainer (the pure decision of what to write). This class wires them together and
 * runs the plans.
 */
export class Registrar implements Lifecycle, HealthReporter {
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly lanes: ContainerLanes;
  private readonly gate: ConsulGate;
  private readonly follower: DockerEventFollower;
  private owner = '';
  private owned = new OwnedServices('');
  /** Container id → when its stop signal arrived (the drain): seen on the event stream, or read back from the agent. */
  private readonly stopSignals = new Map<string, number>();
  /**
   * Containers whose last event said they are not running (die, destroy) and no later one said
   * otherwise: their next lane pass deregisters without inspecting them.
   */
  private readonly exited = new Set<string>();
  /** Containers already warned about (container id → message), so a bad label warns once. */
  private readonly warned = new Map<string, string>();
  /**
   * Containers whose change Consul refused (container id → message): a refusal (an ACL 403, a bad
   * request) is said once per container until it changes or succeeds, not on every event and resync.
   */
  private readonly refused = new Map<string, string>();
  /** Container id → name, for log lines about a container Docker no longer knows. */
  private readonly names = new Map<string, string>();
  private mainLoop: Promise<void> | undefined;
  private timers: Promise<void>[] = [];
  private readonly reconciler = new CoalescedRun<Trigger>(
    (trigger) => this.reconcileOnce(trigger),
    () => this.abort.signal.aborted,
  );
  private reconciledOnce = false;
  private readonly counts = { registered: 0, deregistered: 0 };
  private startedResolve: () => void = () => undefined;
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
    this.follower = new DockerEventFollower(
      deps.docker,
      { connected: (trigger) => this.reconcile(trigger), event: (e) => this.onEvent(e) },
      { log: this.log, metrics: deps.metrics, signal: this.abort.signal },
    );
  }

  /** For /healthz: unhealthy while the Docker event stream or the Consul agent is down. */
  health(): PartHealth {
    const down = this.follower.down;
    if (down)
      return {
        status: 'unhealthy',
        message: `the Docker event stream is down (${down.reason}); reconnecting with backoff`,
        since: down.since.toISOString(),
      };
    if (!this.reconciledOnce)
      return { status: 'starting', message: 'waiting for Docker and the Consul agent to answer a first reconcile' };
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
    if (this.options.deregisterOnExit && this.owner) await this.deregisterAll(Math.max(1000, deadline - Date.now()));
    else if (this.owned.size > 0)
      this.log.info(
        `leaving ${this.owned.size} registrations in place (start with --deregister-on-exit to remove them)`,
      );
  });

  private async deregisterAll(boundMs: number): Promise<void> {
    const ids = this.owned.ids();
    let removed = 0;
    try {
      await withTimeout(
        Promise.all(
          ids.map(async (id) => {
            await this.deps.consul.deregisterService(id);
            removed++;
            this.owned.deregistered(id);
          }),
        ),
        boundMs,
        'deregistering on exit',
      );
      this.log.info(`deregistered all ${removed} services this node owns (--deregister-on-exit)`);
    } catch (err) {
      this.log.warn(
        `deregistered ${removed} of ${ids.length} services on exit: ${errorMessage(err)}; the next start removes the rest`,
      );
    }
  }

  private async run(): Promise<void> {
    this.owner = await this.resolveOwner();
    if (!this.owner) return;
    this.owned = new OwnedServices(this.owner);
    this.log.info(`registering containers on this host as owner "${this.owner}"`, { owner: this.owner });
    this.timers.push(this.every(this.options.resyncMs, () => this.reconcile('resync')));
    this.timers.push(
      this.every(this.options.agentCheckMs ?? Math.min(5_000, this.options.resyncMs), () => this.checkAgent()),
    );
    await this.follower.run();
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
    const effect = eventEffect(e);
    if (!effect) return;
    const name = e.attributes.name ?? this.names.get(e.id) ?? e.id;
    this.names.set(e.id, name);
    const ref = { id: e.id, name };
    if (effect.stopSignal !== undefined) {
      if (!this.stopSignals.has(e.id) && this.owned.ownsContainer(e.id))
        this.log.info(
          // SIGKILL leaves nothing to drain: say so rather than promise a graceful exit.
          effect.killed
            ? `container killed (signal ${effect.stopSignal}): taking its services out of rotation at once`
            : `draining: container received signal ${effect.stopSignal}, taking its services out of rotation before it exits`,
          containerFields(ref),
        );
      this.stopSignals.set(e.id, Date.now());
    }
    if (effect.resumed || effect.gone) this.stopSignals.delete(e.id);
    if (effect.exited) this.exited.add(e.id);
    else if (effect.resumed) this.exited.delete(e.id);
    if (effect.gone) {
      // Gone for good: forget what was kept about it, so a long-lived daemon does not grow.
      this.names.delete(e.id);
      this.warned.delete(e.id);
      this.refused.delete(e.id);
    }
    this.log.debug(`docker event ${e.action}`, containerFields(ref));
    void this.lanes.schedule(name, e.id);
  }

  /**
   * Brings the agent in line with Docker in both directions. Only one runs at a time (see
   * CoalescedRun); resolves true when the pass that covers this request completed.
   */
  reconcile(trigger: Trigger): Promise<boolean> {
    return this.reconciler.request(trigger);
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
    for (const s of this.owned.services()) {
      const cid = s.meta[META_CONTAINER_ID] ?? '';
      if (running.has(cid)) continue;
      const name = s.meta[META_CONTAINER_NAME] ?? cid;
      ghosts.set(cid, name);
      // Log lines about a ghost name the container it belonged to, though Docker forgot it.
      if (!this.names.has(cid)) this.names.set(cid, name);
    }
    await Promise.all([...running, ...ghosts].map(([id, name]) => this.lanes.schedule(name, id)));
    const reg = this.counts.registered - before.registered;
    const dereg = this.counts.deregistered - before.deregistered;
    const line = `reconciled (${trigger}) in ${Date.now() - started} ms: ${running.size} running containers, ${this.owned.size} services owned, ${reg} registered, ${dereg} deregistered`;
    if (reg > 0 || dereg > 0 || trigger !== 'resync') this.log.info(line, { trigger });
    else this.log.debug(line, { trigger });
    this.reconciledOnce = true;
    this.follower.reconciled(started);
    this.startedResolve();
    return true;
  }

  /** Replaces our belief about the agent (services and their maintenance) with what it reports. */
  private async refreshOwned(): Promise<boolean> {
    const mark = this.owned.begin();
    try {
      if (!(await this.gate.ready())) return false;
      const [all, maintenance] = await Promise.all([
        this.deps.consul.agentServices(),
        this.deps.consul.agentMaintenance(),
      ]);
      this.owned.replace(all, maintenance, mark);
    } catch (err) {
      this.consulFailed(err);
      return false;
    }
    this.deps.metrics.registeredInstances.set(this.owned.size);
    return true;
  }

  /** The periodic cheap check: has the agent lost services we registered (restart without state)? */
  private async checkAgent(): Promise<void> {
    if (!this.owner || this.gate.isDown || this.owned.size === 0) return;
    // Held instances are judged again at this pace, so a switch (or the last old instance leaving,
    // on any host) releases them within seconds, with no Docker event to prompt it.
    for (const [id, name] of this.owned.containersWhere(isHoldReason)) void this.lanes.schedule(name, id);
    const mark = this.owned.begin();
    let ids: Set<string>;
    try {
      ids = new Set((await this.deps.consul.agentServices()).map((s) => s.id));
    } catch (err) {
      this.consulFailed(err);
      return;
    }
    const missing = this.owned.missing(ids, mark);
    if (missing.length === 0) return;
    const containers = new Map<string, string>();
    for (const id of missing) {
      const s = this.owned.get(id);
      const cid = s?.meta[META_CONTAINER_ID];
      if (cid) containers.set(cid, s.meta[META_CONTAINER_NAME] ?? cid);
    }
    this.log.warn(
      `the Consul agent no longer has ${missing.length} of our ${this.owned.size} services (agent restarted without its state?); registering again those whose container still runs`,
      { missing: missing.slice(0, 10) },
    );
    // Through each container's lane: its plan reads Docker now, after any write of that lane in flight.
    this.owned.lost(missing);
    this.deps.metrics.registeredInstances.set(this.owned.size);
    await Promise.all([...containers].map(([cid, name]) => this.lanes.schedule(name, cid)));
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
    // The event is the truth, consumed by this pass: later passes (a reconcile) inspect as usual.
    const exited = this.exited.delete(id);
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      let info: ContainerInfo | undefined;
      try {
        if (!exited) info = await this.deps.docker.inspectContainer(id);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (attempt >= 3) {
          this.log.warn(
            `cannot inspect container ${id.slice(0, 12)}: ${errorMessage(err)}; the next reconcile retries`,
            { containerId: id.slice(0, 12) },
          );
          return;
        }
        await sleep(backoffMs(attempt, 250, 2_000), this.abort.signal);
        continue;
      }
      if (!(await this.gate.ready())) return;
      const ref = { id, name: info?.name ?? this.names.get(id) ?? laneName };
      try {
        await this.apply(id, info, containerFields(ref), exited);
        this.refused.delete(id);
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (err instanceof ConsulError && err.statusCode !== undefined && err.statusCode < 500) {
          const message = `Consul refused a change for this container: ${errorMessage(err)}`;
          if (this.refused.get(id) !== message) {
            this.refused.set(id, message);
            this.log.error(message, containerFields(ref));
          }
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

  private get drainTimeoutMs(): number {
    return this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  }

  /** Plans this container's changes, then runs them in order. */
  private async apply(
    id: string,
    info: ContainerInfo | undefined,
    fields: Record<string, string>,
    exited = false,
  ): Promise<void> {
    const startedAt = info?.startedAt ? Date.parse(info.startedAt) : NaN;
    const container = {
      id,
      running: info?.running === true,
      ...(Number.isFinite(startedAt) ? { startedAt } : {}),
      ...(info?.health ? { health: info.health } : {}),
      desired: this.desiredFor(id, info),
      allowLiveMix: this.options.allowLiveMix === true || (info !== undefined && allowsLiveMix(info.labels)),
    };
    const agent = this.owned.view(this.stopSignals.get(id));
    const live = await this.liveColors(servicesToGuard(container, agent), id, fields);
    const plan = planContainer(
      container,
      agent,
      {
        now: Date.now(),
        drainTimeoutMs: this.drainTimeoutMs,
        healthRefreshMs: HEALTH_REFRESH_MS,
      },
      live,
    );
    if (plan.drainSince !== undefined && !this.stopSignals.has(id)) {
      // Read back from the agent: the stop signal came before this process started.
      this.stopSignals.set(id, plan.drainSince);
      this.log.info(
        `still draining: the container got its stop signal at ${new Date(plan.drainSince).toISOString()}, before this Switchyard started; its services stay in maintenance until it exits`,
        fields,
      );
    }
    if (plan.drainExpired) {
      this.log.warn(
        `container still running ${Math.round(this.drainTimeoutMs / 1000)} s after its stop signal; putting it back in rotation`,
        fields,
      );
      this.stopSignals.delete(id);
    }
    const why = !info && !exited ? 'the container no longer exists' : plan.deregisterWhy;
    for (const op of plan.ops) await this.execute(op, { id, fields, why });
    this.deps.metrics.registeredInstances.set(this.owned.size);
  }

  /**
   * The live color of each service the guard must judge. Consul refusing the read (an ACL token
   * without key:read or service:read) leaves that service unguarded with one warning, rather than
   * keeping the container out of Consul; any other failure is retried like a failed write.
   */
  private async liveColors(
    services: readonly string[],
    id: string,
    fields: Record<string, string>,
  ): Promise<Map<string, LiveColorView>> {
    const out = new Map<string, LiveColorView>();
    for (const name of services) {
      try {
        out.set(name, await this.deps.liveColors.liveColor(name));
      } catch (err) {
        if (!(err instanceof ConsulError) || err.statusCode === undefined || err.statusCode >= 500) throw err;
        this.warnOnce(
          id,
          `live-color guard off for ${name}: cannot read its live color (${errorMessage(err)}); the register role's token needs key:read on <kv-prefix>/services/ and node:read (docs/acl/register.hcl)`,
          { ...fields, service: name },
        );
      }
    }
    return out;
  }

  /** One operation: the Consul call, then our cache and the log line. */
  private async execute(
    op: RegistrarOp,
    { id, fields, why }: { id: string; fields: Record<string, string>; why: string },
  ): Promise<void> {
    const consul = this.deps.consul;
    switch (op.kind) {
      case 'conflict':
        this.warnOnce(
          id,
          `not registering ${op.serviceId}: the agent holds a service with this ID that Switchyard does not own`,
          { ...fields, serviceId: op.serviceId },
        );
        return;
      case 'deregister': {
        const s = op.service;
        await this.op('deregister', s.id, () => consul.deregisterService(s.id));
        this.owned.deregistered(s.id);
        this.counts.deregistered++;
        this.log.info(`deregistered ${s.name} (${s.id}): ${why}`, { ...fields, service: s.name, serviceId: s.id });
        return;
      }
      case 'register': {
        const d = op.service;
        await this.op('register', d.id, () => consul.registerService(d));
        this.owned.registered(d, op.healthStatus, Date.now());
        this.counts.registered++;
        this.log.info(
          `registered ${d.name}${d.meta.color ? ` (${d.meta.color})` : ''} at ${d.address || '<agent address>'}:${d.port}`,
          { ...fields, service: d.name, serviceId: d.id, address: d.address, port: d.port, tags: d.tags.join(',') },
        );
        return;
      }
      case 'drain':
        await this.op('maintenance', op.serviceId, () => consul.setServiceMaintenance(op.serviceId, true, op.reason));
        this.owned.maintenanceSet(op.serviceId, op.reason);
        this.log.info(`drained ${op.name} (${op.serviceId}): in maintenance until the container exits`, {
          ...fields,
          service: op.name,
          serviceId: op.serviceId,
        });
        return;
      case 'hold':
        await this.op('maintenance', op.serviceId, () => consul.setServiceMaintenance(op.serviceId, true, op.reason));
        this.owned.maintenanceSet(op.serviceId, op.reason);
        this.log.warn(
          `held ${op.name} (${op.serviceId}) out of rotation: ${op.reason.replace(/^switchyard: /, '')}; it enters rotation once its color is no longer live or no other version is live (or with --allow-live-mix / label switchyard.allow-live-mix=true)`,
          { ...fields, service: op.name, serviceId: op.serviceId },
        );
        return;
      case 'release':
        await this.op('maintenance', op.serviceId, () => consul.deregisterCheck(op.checkId));
        await this.op('maintenance', op.serviceId, () =>
          consul.setServiceMaintenance(op.serviceId, false, `switchyard: released (${RELEASE_WHY[op.why]})`),
        );
        this.owned.maintenanceSet(op.serviceId, undefined);
        this.log.info(`released ${op.name} (${op.serviceId}) into rotation: ${RELEASE_WHY[op.why]}`, {
          ...fields,
          service: op.name,
          serviceId: op.serviceId,
        });
        return;
      case 'undrain':
        await this.op('maintenance', op.serviceId, () => consul.setServiceMaintenance(op.serviceId, false, op.reason));
        this.owned.maintenanceSet(op.serviceId, undefined);
        this.log.info(`back in rotation: ${op.name} (${op.serviceId})`, {
          ...fields,
          service: op.name,
          serviceId: op.serviceId,
        });
        return;
      case 'health':
        await this.op('health', op.serviceId, () => consul.updateTtlCheck(op.checkId, op.status, op.notes));
        this.owned.healthWritten(op.serviceId, op.status, Date.now());
        if (op.changed)
          this.log.info(`Docker health of ${op.name} is now ${op.health}: check ${op.status}`, {
            ...fields,
            service: op.name,
            serviceId: op.serviceId,
          });
        return;
    }
  }

  /** One Consul write about `serviceId`, counted, and marked in flight for OwnedServices. */
  private async op(operation: string, serviceId: string, fn: () => Promise<void>): Promise<void> {
    try {
      await this.owned.writing(serviceId, fn);
      this.deps.metrics.registrations.inc({ operation, outcome: 'ok' });
    } catch (err) {
      this.deps.metrics.registrations.inc({ operation, outcome: 'error' });
      throw err;
    }
  }
}

import type { AgentService, CheckStatus, ServiceRegistration } from '../consul/consul-client.js';
import type { ContainerHealth, DockerEvent } from '../docker/docker-client.js';
import { dockerHealthCheckId, healthNotes, healthStatus } from './service-definitions.js';
import { asAgentService, diffServices } from './service-diff.js';
import { META_CONTAINER_ID } from './meta-keys.js';
import {
  guardLiveColor,
  holdCheck,
  holdCheckId,
  isHoldReason,
  type GuardVerdict,
  type LiveColorView,
} from './live-color-guard.js';

/**
 * The pure half of the registrar: from what Docker says about one container now and what the
 * agent holds, the operations that bring the agent in line — registrations, deregistrations,
 * drain (maintenance) and the Docker-health check. The Registrar runs the plan (registrar.ts);
 * nothing here does I/O or reads the clock.
 *
 * The drain is persisted in the agent itself: a drained service is in Consul maintenance with a
 * reason naming the moment of the stop signal (drainReason). A Switchyard that restarts while a
 * container is still stopping reads it back and keeps the container drained until it exits.
 *
 * The live-color guard (live-color-guard.ts) is decided here too: an instance entering the live color
 * with another version than the live instances is registered with a critical hold check and put in
 * maintenance with the reason (`hold`); once the guard no longer holds it, both go (`release`).
 */
export type RegistrarOp =
  | { kind: 'conflict'; serviceId: string }
  | { kind: 'deregister'; service: AgentService }
  | { kind: 'register'; service: ServiceRegistration; healthStatus?: CheckStatus }
  | { kind: 'drain'; serviceId: string; name: string; reason: string }
  | { kind: 'undrain'; serviceId: string; name: string; reason: string }
  | { kind: 'hold'; serviceId: string; name: string; reason: string }
  | {
      kind: 'release';
      serviceId: string;
      name: string;
      checkId: string;
      why: Exclude<GuardVerdict, { held: true }>['why'];
    }
  | {
      kind: 'health';
      serviceId: string;
      name: string;
      checkId: string;
      health: ContainerHealth;
      status: CheckStatus;
      notes: string;
      /** The status differs from the last one written (a refresh of the same status is not news). */
      changed: boolean;
    };

export interface LastHealth {
  status: CheckStatus;
  /** When it was last written (ms). */
  at: number;
}

/** One container as the planner sees it. */
export interface ContainerView {
  id: string;
  /** Running per `docker inspect` (false when it no longer exists). */
  running: boolean;
  /** State.StartedAt in ms; a drain older than the container's last start is over. */
  startedAt?: number;
  health?: ContainerHealth;
  /** What its labels ask for (empty when stopped, unselected or invalid). */
  desired: readonly ServiceRegistration[];
  /** --allow-live-mix, or the container's switchyard.allow-live-mix label. */
  allowLiveMix?: boolean;
}

/** What the registrar holds about the agent and the container's drain. */
export interface AgentView {
  owner: string;
  /** Every service this owner holds on the agent, by ID. */
  owned: ReadonlyMap<string, AgentService>;
  /** Service IDs the agent holds for someone else. */
  foreign: ReadonlySet<string>;
  /** Services in maintenance: service ID → reason. */
  maintenance: ReadonlyMap<string, string>;
  health: ReadonlyMap<string, LastHealth>;
  /** When this container got a stop signal, as seen in this process's event stream (ms). */
  stopSignalAt?: number;
}

export interface PlanSettings {
  now: number;
  /** A container still running this long after its stop signal is put back in rotation. */
  drainTimeoutMs: number;
  /** Rewrite an unchanged Docker-health status this often, so its long TTL never runs out. */
  healthRefreshMs: number;
}

export interface ContainerPlan {
  ops: RegistrarOp[];
  /** Why services that are no longer desired are removed (for the log). */
  deregisterWhy: string;
  /** The drain ran out: the container is put back in rotation although still running. */
  drainExpired: boolean;
  /** The drain the plan acts on (ms), when the container is drained. */
  drainSince?: number;
}

const DRAIN_REASON = 'switchyard: container is stopping (drain) since ';
const RESUME_REASON = 'switchyard: container running again';
const DRAIN_TIMEOUT_REASON = 'switchyard: container still running after the drain timeout';

/** The maintenance reason that marks a drain, and when its stop signal came. */
export function drainReason(since: number): string {
  return `${DRAIN_REASON}${new Date(since).toISOString()}`;
}

/** The stop-signal time a maintenance reason records, when it is one of our drains. */
export function parseDrainReason(reason: string): number | undefined {
  if (!reason.startsWith(DRAIN_REASON)) return undefined;
  const t = Date.parse(reason.slice(DRAIN_REASON.length));
  return Number.isFinite(t) ? t : undefined;
}

/**
 * The services of this container the live-color guard must judge, so the caller can read their live
 * color first: those about to enter rotation (not yet registered for this container) and those it
 * holds now.
 */
export function servicesToGuard(c: ContainerView, agent: AgentView): string[] {
  if (c.allowLiveMix === true) return []; // allowed whatever is live
  const names = new Set<string>();
  for (const d of guarded(c, agent)) names.add(d.name);
  return [...names].sort();
}

function guarded(c: ContainerView, agent: AgentView): ServiceRegistration[] {
  return c.desired.filter((d) => {
    if (d.meta.color === undefined) return false;
    const mine = agent.owned.get(d.id)?.meta[META_CONTAINER_ID] === c.id;
    return !mine || isHoldReason(agent.maintenance.get(d.id));
  });
}

export function planContainer(
  c: ContainerView,
  agent: AgentView,
  settings: PlanSettings,
  live: ReadonlyMap<string, LiveColorView> = new Map(),
): ContainerPlan {
  const { owned } = agent;
  const verdicts = new Map<string, GuardVerdict>();
  for (const d of guarded(c, agent)) {
    const view = live.get(d.name);
    // Held, and its live color could not be read: it stays held (only a newcomer goes in unguarded).
    if (view === undefined && c.allowLiveMix !== true && isHoldReason(agent.maintenance.get(d.id))) continue;
    verdicts.set(d.id, guardLiveColor(d, view, c.allowLiveMix === true));
  }
  const holdReason = (id: string): string | undefined => {
    const v = verdicts.get(id);
    return v?.held ? v.reason : undefined;
  };
  // A held instance is registered with its hold check, so it never counts as passing.
  const desired = c.desired.map((d) => {
    const reason = holdReason(d.id);
    return reason === undefined ? d : { ...d, checks: [...d.checks, holdCheck(d.id, reason)] };
  });
  c = { ...c, desired };
  const current = [...owned.values()].filter((s) => s.meta[META_CONTAINER_ID] === c.id);
  // Another container may hold one of these IDs right now (a name reused by compose): it is
  // overwritten by the register, as it should be.
  const sameIds = c.desired.map((d) => owned.get(d.id)).filter((s): s is AgentService => s !== undefined);
  const actual = [...current, ...sameIds.filter((s) => !current.includes(s))];
  for (const d of c.desired) if (agent.foreign.has(d.id)) actual.push({ ...asAgentService(d), meta: {} });
  const diff = diffServices(c.desired, actual, agent.owner);

  const ops: RegistrarOp[] = diff.conflicts.map((d) => ({ kind: 'conflict', serviceId: d.id }));
  for (const s of diff.deregister) ops.push({ kind: 'deregister', service: s });
  for (const d of diff.register) {
    const hc = d.checks.find((k) => k.checkId === dockerHealthCheckId(d.id));
    ops.push({ kind: 'register', service: d, ...(hc?.status ? { healthStatus: hc.status } : {}) });
  }

  const drain = drainState(c, current, agent, settings);
  const kept = new Set([...diff.register, ...diff.unchanged].map((d) => d.id));
  const health = new Map(agent.health);
  for (const d of diff.register) {
    const hc = d.checks.find((k) => k.checkId === dockerHealthCheckId(d.id));
    if (hc?.status) health.set(d.id, { status: hc.status, at: settings.now });
  }
  for (const d of c.desired) {
    if (!kept.has(d.id)) continue;
    const reason = agent.maintenance.get(d.id);
    const hold = holdReason(d.id);
    const verdict = verdicts.get(d.id);
    if (hold !== undefined && reason === undefined)
      ops.push({ kind: 'hold', serviceId: d.id, name: d.name, reason: hold });
    else if (verdict && !verdict.held && isHoldReason(reason) && !drain.draining)
      // A stopping container stays out: it is on its way out anyway.
      ops.push({ kind: 'release', serviceId: d.id, name: d.name, checkId: holdCheckId(d.id), why: verdict.why });
    else if (drain.draining && reason === undefined)
      ops.push({ kind: 'drain', serviceId: d.id, name: d.name, reason: drainReason(drain.since!) });
    else if (!drain.draining && reason !== undefined && parseDrainReason(reason) !== undefined)
      ops.push({
        kind: 'undrain',
        serviceId: d.id,
        name: d.name,
        reason: drain.expired ? DRAIN_TIMEOUT_REASON : RESUME_REASON,
      });
    if (c.health) {
      const want = healthStatus(c.health);
      const last = health.get(d.id);
      if (!last || last.status !== want || settings.now - last.at > settings.healthRefreshMs)
        ops.push({
          kind: 'health',
          serviceId: d.id,
          name: d.name,
          checkId: dockerHealthCheckId(d.id),
          health: c.health,
          status: want,
          notes: healthNotes(c.health),
          changed: last !== undefined && last.status !== want,
        });
    }
  }

  return {
    ops,
    deregisterWhy: !c.running ? 'the container is not running' : 'no longer part of the container’s definition',
    drainExpired: drain.expired,
    ...(drain.draining ? { drainSince: drain.since! } : {}),
  };
}

/**
 * A running container is drained from its stop signal (seen live, or read back from the
 * maintenance reason of one of its services, when the container has not started again since)
 * until the drain timeout.
 */
function drainState(
  c: ContainerView,
  current: readonly AgentService[],
  agent: AgentView,
  settings: PlanSettings,
): { draining: boolean; expired: boolean; since?: number } {
  if (!c.running) return { draining: false, expired: false };
  let since = agent.stopSignalAt;
  if (since === undefined)
    for (const s of current) {
      const reason = agent.maintenance.get(s.id);
      const t = reason === undefined ? undefined : parseDrainReason(reason);
      if (t !== undefined && (c.startedAt === undefined || t >= c.startedAt) && (since === undefined || t < since))
        since = t;
    }
  if (since === undefined) return { draining: false, expired: false };
  if (settings.now - since > settings.drainTimeoutMs) return { draining: false, expired: true, since };
  return { draining: true, expired: false, since };
}

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
const KILL_SIGNALS = new Set(['9', 'SIGKILL', 'KILL']);
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
  'health_status',
]);

/** What one Docker event means for the registrar; undefined: nothing (the container is not even looked at). */
export interface EventEffect {
  /** A stop signal arrived: drain from now on. */
  stopSignal?: string;
  /** That signal was SIGKILL (nothing left to drain gracefully). */
  killed?: boolean;
  /** The container runs again: its drain is over. */
  resumed?: boolean;
  /** Destroyed: forget everything kept about it. */
  gone?: boolean;
  /**
   * The container is not running (it exited, or is destroyed): the event itself says so, so its
   * services go without asking Docker first (an inspect waits while dockerd is busy).
   */
  exited?: boolean;
}

export function eventEffect(e: Pick<DockerEvent, 'action' | 'attributes'>): EventEffect | undefined {
  // `health_status: healthy`: the action is a prefix.
  const action = (e.action.split(':')[0] ?? '').trim();
  if (!SYNC_ACTIONS.has(action)) return undefined;
  if (action === 'kill') {
    const sig = e.attributes.signal ?? '';
    // Any other signal (SIGHUP, SIGUSR1…) is a reload, not a stop.
    if (!TERMINATING_SIGNALS.has(sig)) return undefined;
    return { stopSignal: sig, killed: KILL_SIGNALS.has(sig) };
  }
  if (action === 'start' || action === 'unpause' || action === 'restart') return { resumed: true };
  if (action === 'destroy') return { gone: true, exited: true };
  if (action === 'die') return { exited: true };
  return {};
}

import { validAddress } from '../domain/address.js';
import type { HealthCheckState, HealthInstance } from '../consul/consul-client.js';
import type { CheckStatus } from '../domain/check-status.js';
import { COLOR_PATTERN } from '../domain/color.js';
import type { ServiceState } from '../domain/service-state.js';
import { idleColor, liveColor } from './live-color.js';
import type { Instance, ServiceSnapshot, Snapshot } from './snapshot.js';
import { quoted } from '../log/text.js';

/**
 * Consul answers → one frozen, deterministic Snapshot. Pure: the watcher feeds it what the
 * blocking queries last returned, `render --once` what one round of queries returned.
 */

export interface SnapshotSources {
  /** service → every instance Consul reports for it, whatever its health. */
  health: ReadonlyMap<string, readonly HealthInstance[]>;
  /** service → its blue-green state (the last good value read from KV). */
  states: ReadonlyMap<string, ServiceState>;
}

export interface SnapshotRules {
  /** Tags that name a color, for instances without a `color` Meta key. */
  colors: readonly string[];
  /**
   * Restrict to these services; each listed service appears (with no instances when Consul has
   * none, so a template renders a 503 instead of dropping it). Unset: every service with at least
   * one colored instance.
   */
  services?: readonly string[];
}

/** An instance left out of the snapshot, or a value ignored, with why. */
export interface SnapshotProblem {
  service: string;
  instanceId: string;
  message: string;
}

export interface BuildResult {
  snapshot: Snapshot;
  problems: SnapshotProblem[];
}

export const DEFAULT_COLORS: readonly string[] = ['blue', 'green'];

const SEVERITY: Record<CheckStatus, number> = { passing: 0, warning: 1, critical: 2 };

/** An address a proxy config may carry: an IPv4/IPv6 literal or a DNS name, nothing else. */
export function isSafeAddress(address: string): boolean {
  return validAddress(address) !== undefined;
}

export function isMaintenanceCheck(check: HealthCheckState): boolean {
  return check.checkId === '_node_maintenance' || check.checkId.startsWith('_service_maintenance:');
}

/** Worst of the instance's own checks and its node's checks (serfHealth); passing when there are none. */
export function instanceHealth(instance: HealthInstance): CheckStatus {
  let worst: CheckStatus = 'passing';
  for (const c of instance.checks) {
    if (c.serviceId !== '' && c.serviceId !== instance.serviceId) continue;
    if (SEVERITY[c.status] > SEVERITY[worst]) worst = c.status;
  }
  return worst;
}

export function instanceColor(
  instance: HealthInstance,
  colors: readonly string[],
): { color: string | undefined; problem?: string } {
  const metaColor = instance.meta.color;
  if (metaColor !== undefined) {
    if (COLOR_PATTERN.test(metaColor)) return { color: metaColor };
    return {
      color: undefined,
      problem: `Meta color ${quoted(metaColor, 40)} is not a valid color (1-32 of a-z, 0-9, _ and -); the instance is treated as uncolored`,
    };
  }
  return { color: instance.tags.find((t) => colors.includes(t)) };
}

export function buildSnapshot(sources: SnapshotSources, rules: SnapshotRules): BuildResult {
  const problems: SnapshotProblem[] = [];
  const names = rules.services ? [...new Set(rules.services)] : [...sources.health.keys()];
  const services: ServiceSnapshot[] = [];

  for (const name of names.sort()) {
    const instances: Instance[] = [];
    for (const raw of sources.health.get(name) ?? []) {
      const where = { service: name, instanceId: raw.serviceId };
      if (!Number.isInteger(raw.port) || raw.port < 1 || raw.port > 65535) {
        problems.push({ ...where, message: `port ${raw.port} is not 1-65535; instance left out` });
        continue;
      }
      if (!isSafeAddress(raw.address)) {
        problems.push({
          ...where,
          message: `address ${quoted(raw.address, 80)} is not an IP address or host name; instance left out`,
        });
        continue;
      }
      const { color, problem } = instanceColor(raw, rules.colors);
      if (problem) problems.push({ ...where, message: problem });
      instances.push({
        id: raw.serviceId,
        service: name,
        node: raw.node,
        address: raw.address,
        port: raw.port,
        color,
        tags: Object.freeze([...raw.tags]),
        meta: Object.freeze(sortedRecord(raw.meta)),
        health: instanceHealth(raw),
        maintenance: raw.checks.some(
          (c) => isMaintenanceCheck(c) && (c.serviceId === '' || c.serviceId === raw.serviceId),
        ),
      });
    }
    if (!rules.services && !instances.some((i) => i.color !== undefined)) continue;
    instances.sort(compareInstances);

    const state = sources.states.get(name);
    const passing = new Map<string, number>();
    const colored = new Set<string>();
    for (const i of instances) {
      if (i.color === undefined) continue;
      colored.add(i.color);
      const up = i.health === 'passing' && !i.maintenance ? 1 : 0;
      passing.set(i.color, (passing.get(i.color) ?? 0) + up);
    }
    const live = liveColor(state, passing);
    const idle = idleColor(live, state, colored);
    services.push(
      Object.freeze({
        name,
        instances: Object.freeze(instances.map((i) => Object.freeze(i))),
        state: state === undefined ? undefined : freezeState(state),
        live,
        idle,
      }),
    );
  }
  return { snapshot: Object.freeze({ services: Object.freeze(services) }), problems };
}

function compareInstances(a: Instance, b: Instance): number {
  // Uncolored instances sort last.
  const ca = a.color ?? '\uffff';
  const cb = b.color ?? '\uffff';
  return cmp(ca, cb) || cmp(a.address, b.address) || a.port - b.port || cmp(a.id, b.id) || cmp(a.node, b.node);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRecord<V>(r: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function freezeState(s: ServiceState): ServiceState {
  return Object.freeze({ ...s, ...(s.weights ? { weights: Object.freeze(sortedRecord(s.weights)) } : {}) });
}

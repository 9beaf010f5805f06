import type { KvEntry } from '../consul/consul-client.js';
import { parseServiceState, servicesPrefix, type ServiceState } from '../domain/service-state.js';

export interface StateProblem {
  key: string;
  service: string;
  error: string;
  /** The state kept for the service instead (the last good one), if any. */
  kept: ServiceState | undefined;
}

export interface ServiceStates {
  states: Map<string, ServiceState>;
  problems: StateProblem[];
}

/**
 * The KV entries under `<prefix>/services/` → each service's blue-green state. A bad value never
 * wins: the service keeps its last good state (from `lastGood`), and the problem names the key.
 * A deleted key removes the state (the live color is then derived from health again).
 */
export function readServiceStates(
  entries: readonly KvEntry[],
  kvPrefix: string,
  lastGood: ReadonlyMap<string, ServiceState> = new Map(),
): ServiceStates {
  const base = servicesPrefix(kvPrefix);
  const states = new Map<string, ServiceState>();
  const problems: StateProblem[] = [];
  for (const e of entries) {
    if (!e.key.startsWith(base) || !e.key.endsWith('/state')) continue;
    const service = e.key.slice(base.length, -'/state'.length);
    if (!service || service.includes('/')) continue;
    const parsed = parseServiceState(e.value);
    if (parsed.ok) {
      states.set(service, parsed.value);
      continue;
    }
    const kept = lastGood.get(service);
    if (kept) states.set(service, kept);
    problems.push({ key: e.key, service, error: parsed.error, kept });
  }
  return { states, problems };
}

/** Which services get a health watch: the listed ones, else every catalog service but Consul's own. */
export function watchedServices(
  catalog: Readonly<Record<string, readonly string[]>>,
  only?: readonly string[],
): string[] {
  if (only) return [...new Set(only)].sort();
  return Object.keys(catalog)
    .filter((name) => name !== 'consul')
    .sort();
}

import type { ConsulClient, HealthInstance } from '../consul/consul-client.js';
import { buildSnapshot, type BuildResult, type SnapshotRules } from '../snapshot/build-snapshot.js';
import { servicesPrefix } from '../domain/service-state.js';
import { readServiceStates, watchedServices, type StateProblem } from './service-states.js';

export interface FetchedSnapshot extends BuildResult {
  stateProblems: StateProblem[];
}

/**
 * One non-blocking round of the watcher's queries (catalog, each service's health, the KV states)
 * → a snapshot. For `render --once`: any failed query fails the whole round, so a CI check never
 * passes on a half-read catalog.
 */
export async function fetchSnapshot(
  consul: ConsulClient,
  kvPrefix: string,
  rules: SnapshotRules,
  concurrency = 16,
): Promise<FetchedSnapshot> {
  const names = rules.services
    ? watchedServices({}, rules.services)
    : watchedServices((await consul.catalogServices()).value);
  const health = new Map<string, readonly HealthInstance[]>();
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift())
      health.set(name, (await consul.healthService(name)).value);
  };
  const [kv] = await Promise.all([
    consul.kvList(servicesPrefix(kvPrefix)),
    ...Array.from({ length: Math.min(concurrency, names.length) }, worker),
  ]);
  const { states, problems: stateProblems } = readServiceStates(kv.value, kvPrefix);
  return { ...buildSnapshot({ health, states }, rules), stateProblems };
}

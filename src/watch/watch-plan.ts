import type { HealthInstance, NodeCheck } from '../consul/consul-client.js';

/**
 * Which services to fetch again, decided from the two catalog-wide watches alone. The render role
 * holds three blocking queries whatever the number of services (the service list, every check, the
 * KV states) instead of one per service, which Consul's per-client connection limit (200 by default)
 * capped at about 190 services. Pure: the watcher runs the fetches.
 *
 * What each watch sees:
 * - `/v1/catalog/services` (name → tags) moves its index on any write to the services table:
 *   instances added, changed or removed;
 * - `/v1/health/state/any` lists every check with its ModifyIndex: a check added, removed or
 *   rewritten (status, output, definition) changes that list.
 * An instance registered or deregistered with checks shows in both, in the same Raft write. A write
 * that touches only the services table (an address or Meta changed in place with the checks the
 * same, an instance without checks removed) shows only as the catalog index moving: when nothing
 * else explains that move, every watched service is fetched again.
 */

export interface CheckDigests {
  /** Service name → a digest of all its service checks (node, id, status, ModifyIndex). */
  services: Map<string, string>;
  /** Node name → a digest of its node-level checks (serfHealth, node maintenance). */
  nodes: Map<string, string>;
  /** The ModifyIndex of every check: a catalog write at one of these also touched a check. */
  modifyIndexes: Set<number>;
}

export function checkDigests(checks: readonly NodeCheck[]): CheckDigests {
  const services = new Map<string, string[]>();
  const nodes = new Map<string, string[]>();
  const modifyIndexes = new Set<number>();
  for (const c of checks) {
    modifyIndexes.add(c.modifyIndex);
    const part = `${c.node}\u0000${c.checkId}\u0000${c.serviceId}\u0000${c.status}\u0000${c.modifyIndex}`;
    const key = c.serviceId ? c.serviceName : c.node;
    const into = c.serviceId ? services : nodes;
    const list = into.get(key);
    if (list) list.push(part);
    else into.set(key, [part]);
  }
  const joined = (m: Map<string, string[]>) => new Map([...m].map(([k, v]) => [k, v.sort().join('\n')]));
  return { services: joined(services), nodes: joined(nodes), modifyIndexes };
}

export interface RefreshInput {
  /** The services watched before and now (the catalog's, or --services). */
  before: readonly string[];
  after: readonly string[];
  /** Catalog tags per service, before and now. */
  tagsBefore: Readonly<Record<string, readonly string[]>>;
  tagsAfter: Readonly<Record<string, readonly string[]>>;
  checksBefore: CheckDigests;
  checksAfter: CheckDigests;
  /** What is known of each service's instances: which nodes they run on. */
  health: ReadonlyMap<string, readonly HealthInstance[]>;
}

export interface RefreshPlan {
  /** Services to fetch with a non-blocking /v1/health/service/:name. */
  fetch: string[];
  /** Services no longer watched: forget their instances. */
  drop: string[];
}

/** The services whose instances may have changed between two readings of the catalog-wide watches. */
export function planRefresh(input: RefreshInput): RefreshPlan {
  const before = new Set(input.before);
  const after = new Set(input.after);
  const fetch = new Set<string>();
  for (const name of after) {
    if (!before.has(name)) fetch.add(name);
    else if (!sameTags(input.tagsBefore[name], input.tagsAfter[name])) fetch.add(name);
    else if (input.checksBefore.services.get(name) !== input.checksAfter.services.get(name)) fetch.add(name);
  }
  // A node's own checks (serfHealth, maintenance) are part of every instance's health on it.
  const nodes = new Set<string>();
  for (const n of new Set([...input.checksBefore.nodes.keys(), ...input.checksAfter.nodes.keys()]))
    if (input.checksBefore.nodes.get(n) !== input.checksAfter.nodes.get(n)) nodes.add(n);
  if (nodes.size > 0)
    for (const name of after) if ((input.health.get(name) ?? []).some((i) => nodes.has(i.node))) fetch.add(name);
  return { fetch: [...fetch].sort(), drop: [...before].filter((n) => !after.has(n)).sort() };
}

/**
 * Whether a move of the catalog's index to `catalogIndex` is accounted for: the same Raft write also
 * wrote a check (a check holds that ModifyIndex), or changed the check list (`checkIndexes`: the
 * indexes at which the check data was seen to change, as when a deregistration removed checks).
 * Then the check digests already name the service. Consul moves the checks index on every
 * deregistration, checks or not, so an index alone is not enough: the data must have changed.
 */
export function catalogMoveExplained(
  catalogIndex: number,
  checkIndexes: ReadonlySet<number>,
  digests: CheckDigests,
): boolean {
  return checkIndexes.has(catalogIndex) || digests.modifyIndexes.has(catalogIndex);
}

function sameTags(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((t, i) => t === sb[i]);
}

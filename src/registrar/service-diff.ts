import type { AgentService, ServiceRegistration } from '../consul/consul-client.js';
import { META_OWNER } from './meta-keys.js';

/**
 * Desired registrations vs what the agent holds: the pure heart of reconciliation. Only services
 * whose Meta names `owner` are ever deregistered or overwritten; anything else is left alone.
 */
export interface ServicePlan {
  /** Missing from the agent, or different from what it holds. */
  register: ServiceRegistration[];
  /** Ours, but no longer desired (ghosts, stopped containers). */
  deregister: AgentService[];
  /** Desired IDs the agent holds for someone else: never touched, reported. */
  conflicts: ServiceRegistration[];
  unchanged: ServiceRegistration[];
}

export function isOwnedBy(s: Pick<AgentService, 'meta'>, owner: string): boolean {
  return s.meta[META_OWNER] === owner;
}

export function diffServices(
  desired: readonly ServiceRegistration[],
  actual: readonly AgentService[],
  owner: string,
): ServicePlan {
  const byId = new Map(actual.map((a) => [a.id, a]));
  const plan: ServicePlan = { register: [], deregister: [], conflicts: [], unchanged: [] };
  const wanted = new Set<string>();
  for (const d of desired) {
    wanted.add(d.id);
    const a = byId.get(d.id);
    if (!a) plan.register.push(d);
    else if (!isOwnedBy(a, owner)) plan.conflicts.push(d);
    else if (sameService(d, a)) plan.unchanged.push(d);
    else plan.register.push(d);
  }
  for (const a of actual) if (!wanted.has(a.id) && isOwnedBy(a, owner)) plan.deregister.push(a);
  return plan;
}

/** What the agent reports back for a registration (checks are not part of GET /v1/agent/services). */
export function asAgentService(s: ServiceRegistration): AgentService {
  return { id: s.id, name: s.name, tags: [...s.tags], address: s.address, port: s.port, meta: { ...s.meta } };
}

export function sameService(d: ServiceRegistration | AgentService, a: AgentService): boolean {
  return (
    d.name === a.name &&
    d.address === a.address &&
    d.port === a.port &&
    sameList(d.tags, a.tags) &&
    sameRecord(d.meta, a.meta)
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

import type { AgentService, CheckStatus, ServiceRegistration } from '../consul/consul-client.js';
import { META_CONTAINER_ID, META_CONTAINER_NAME } from './meta-keys.js';
import type { AgentView, LastHealth } from './registration-plan.js';
import { asAgentService, isOwnedBy } from './service-diff.js';

/**
 * What the registrar believes the local agent holds for this owner: services, which of them are in
 * maintenance (and why), and the last Docker-health status written. Lanes update it after each
 * write; a reconcile replaces it with the agent's answer.
 *
 * The agent's answer may be older than a write a lane made while the request was in flight. Each
 * write therefore gets a sequence number, and a refresh keeps our own entry for every service
 * written after the refresh began (`begin()`), instead of the stale answer. A write still in flight
 * (`writing()`) counts as newer than any answer too: the agent applies a write before it answers
 * it (the answer waits on the catalog sync), so a read can see a deregistration whose response has
 * not reached us yet.
 */
export class OwnedServices {
  private readonly owned = new Map<string, AgentService>();
  private readonly maintenance = new Map<string, string>();
  private readonly health = new Map<string, LastHealth>();
  private readonly foreign = new Set<string>();
  private readonly touched = new Map<string, number>();
  /** Writes sent to the agent and not yet answered, by service ID. */
  private readonly inFlight = new Map<string, number>();
  private seq = 0;

  constructor(private readonly owner: string) {}

  get size(): number {
    return this.owned.size;
  }

  ids(): string[] {
    return [...this.owned.keys()];
  }

  get(id: string): AgentService | undefined {
    return this.owned.get(id);
  }

  ownsContainer(containerId: string): boolean {
    for (const s of this.owned.values()) if (s.meta[META_CONTAINER_ID] === containerId) return true;
    return false;
  }

  /** Containers (id → name) with a service in maintenance for a reason `pred` accepts. */
  containersWhere(pred: (reason: string) => boolean): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, reason] of this.maintenance) {
      const s = this.owned.get(id);
      const cid = s?.meta[META_CONTAINER_ID];
      if (cid && pred(reason)) out.set(cid, s.meta[META_CONTAINER_NAME] ?? cid);
    }
    return out;
  }

  services(): AgentService[] {
    return [...this.owned.values()];
  }

  /** The planner's view of the agent (live maps: plan, then write, within one lane). */
  view(stopSignalAt: number | undefined): AgentView {
    return {
      owner: this.owner,
      owned: this.owned,
      foreign: this.foreign,
      maintenance: this.maintenance,
      health: this.health,
      ...(stopSignalAt !== undefined ? { stopSignalAt } : {}),
    };
  }

  /** Marks the start of a read of the agent; pass the mark to replace() or missing(). */
  begin(): number {
    return this.seq;
  }

  /** Replaces our belief with the agent's answer, except for services written since `mark`. */
  replace(all: readonly AgentService[], maintenance: ReadonlyMap<string, string>, mark: number): void {
    const fresh = (id: string) => this.newerThan(id, mark);
    this.foreign.clear();
    const ours = new Map<string, AgentService>();
    for (const s of all) {
      if (isOwnedBy(s, this.owner)) ours.set(s.id, s);
      else this.foreign.add(s.id);
    }
    for (const id of [...this.owned.keys()]) if (!ours.has(id) && !fresh(id)) this.forget(id);
    for (const [id, s] of ours) {
      if (fresh(id)) continue;
      this.owned.set(id, s);
      const reason = maintenance.get(id);
      if (reason === undefined) this.maintenance.delete(id);
      else this.maintenance.set(id, reason);
    }
  }

  /** Services we hold that are not in `present` (the agent's IDs, read since `mark`). */
  missing(present: ReadonlySet<string>, mark: number): string[] {
    // A service written while the request was in flight, or being written now, is not evidence of a loss.
    return this.ids().filter((id) => !present.has(id) && !this.newerThan(id, mark));
  }

  /** Services the agent lost: forgotten, so the planner writes them again if their container still wants them. */
  lost(ids: readonly string[]): void {
    for (const id of ids) this.forget(id);
  }

  /**
   * Runs one write to the agent about `id`. While it is in flight, no read of the agent can
   * overrule our entry for `id`; once it is answered, only a read begun after it can.
   */
  async writing<T>(id: string, write: () => Promise<T>): Promise<T> {
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    try {
      return await write();
    } finally {
      const n = (this.inFlight.get(id) ?? 1) - 1;
      if (n > 0) this.inFlight.set(id, n);
      else this.inFlight.delete(id);
      this.touch(id);
    }
  }

  registered(s: ServiceRegistration, healthStatus: CheckStatus | undefined, now: number): void {
    this.owned.set(s.id, asAgentService(s));
    if (healthStatus) this.health.set(s.id, { status: healthStatus, at: now });
    this.touch(s.id);
  }

  deregistered(id: string): void {
    this.forget(id);
    this.touch(id);
  }

  maintenanceSet(id: string, reason: string | undefined): void {
    if (reason === undefined) this.maintenance.delete(id);
    else this.maintenance.set(id, reason);
    this.touch(id);
  }

  healthWritten(id: string, status: CheckStatus, now: number): void {
    this.health.set(id, { status, at: now });
  }

  private forget(id: string): void {
    this.owned.delete(id);
    this.maintenance.delete(id);
    this.health.delete(id);
  }

  private newerThan(id: string, mark: number): boolean {
    return this.inFlight.has(id) || (this.touched.get(id) ?? -1) > mark;
  }

  private touch(id: string): void {
    this.touched.set(id, ++this.seq);
  }
}

import type { BlockingOptions, ConsulClient } from '../consul/consul-client.js';
import { StateConflictError } from '../errors.js';
import { isActive, parsePlan, planKey, rolloutsPrefix, type RolloutPlan, type RolloutRequest } from './plan.js';
import { trafficPrefix, trafficReportSchema, type TrafficReport } from '../domain/traffic.js';

/** Rollout plans and traffic reports in Consul KV; every plan write is a check-and-set. */
export interface StoredPlan {
  plan: RolloutPlan | undefined;
  modifyIndex: number;
  invalid?: string;
}

export class RolloutStore {
  constructor(
    private readonly consul: ConsulClient,
    readonly prefix: string,
  ) {}

  async read(service: string): Promise<StoredPlan> {
    const key = planKey(this.prefix, service);
    const e = await this.consul.kvGet(key);
    if (!e) return { plan: undefined, modifyIndex: 0 };
    const p = parsePlan(e.value);
    return p.ok
      ? { plan: p.value, modifyIndex: e.modifyIndex }
      : { plan: undefined, modifyIndex: e.modifyIndex, invalid: `the rollout plan at ${key} is invalid: ${p.error}` };
  }

  /** Blocks (with options.index) until the plan changes; the answer's index is for the next call. */
  async watch(service: string, options: BlockingOptions): Promise<{ index: number; stored: StoredPlan }> {
    const key = planKey(this.prefix, service);
    const { index, value } = await this.consul.kvList(key, options);
    const e = value.find((v) => v.key === key);
    if (!e) return { index, stored: { plan: undefined, modifyIndex: 0 } };
    const p = parsePlan(e.value);
    return {
      index,
      stored: p.ok
        ? { plan: p.value, modifyIndex: e.modifyIndex }
        : { plan: undefined, modifyIndex: e.modifyIndex, invalid: `the rollout plan at ${key} is invalid: ${p.error}` },
    };
  }

  /** Every plan under the prefix, with unreadable ones reported; blocking with options.index. */
  async list(options: BlockingOptions = {}): Promise<{ index: number; plans: RolloutPlan[]; problems: string[] }> {
    const prefix = rolloutsPrefix(this.prefix);
    const { index, value } = await this.consul.kvList(prefix, options);
    const plans: RolloutPlan[] = [];
    const problems: string[] = [];
    for (const e of value) {
      if (!e.key.endsWith('/plan')) continue;
      const p = parsePlan(e.value);
      if (p.ok) plans.push(p.value);
      else problems.push(`${e.key} is not a rollout plan (${p.error}); ignored`);
    }
    return { index, plans, problems };
  }

  /** false when the plan changed since `modifyIndex` was read (0: only if absent). */
  write(plan: RolloutPlan, modifyIndex: number): Promise<boolean> {
    return this.consul.kvPut(planKey(this.prefix, plan.service), JSON.stringify(plan), { cas: modifyIndex });
  }

  /** Stores an operator's request in the active plan, retrying when the executor writes in between. */
  async request(service: string, request: RolloutRequest): Promise<RolloutPlan> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { plan, modifyIndex, invalid } = await this.read(service);
      if (invalid) throw new StateConflictError(invalid);
      if (!plan || !isActive(plan.phase))
        throw new StateConflictError(
          `${service} has no rollout running${plan ? ` (the last one ${plan.phase}: ${plan.outcome ?? ''})` : ''}`,
        );
      const next = { ...plan, request };
      if (await this.write(next, modifyIndex)) return next;
    }
    throw new StateConflictError(`the rollout plan of ${service} kept changing; try again`);
  }

  async trafficReports(): Promise<{ reports: TrafficReport[]; problems: string[] }> {
    const { value } = await this.consul.kvList(trafficPrefix(this.prefix));
    const reports: TrafficReport[] = [];
    const problems: string[] = [];
    for (const e of value) {
      try {
        const r = trafficReportSchema.safeParse(JSON.parse(e.value));
        if (r.success) reports.push(r.data);
        else problems.push(`${e.key} is not a traffic report; ignored`);
      } catch {
        problems.push(`${e.key} is not JSON; ignored`);
      }
    }
    return { reports, problems };
  }

  writeTraffic(report: TrafficReport): Promise<boolean> {
    return this.consul.kvPut(`${trafficPrefix(this.prefix)}${report.node}`, JSON.stringify(report));
  }
}

import type { HistoryEntry } from '../domain/service-state.js';
import { SwitchStateStore } from '../switch/state-store.js';
import type { ServiceStatus, SwitchControl } from '../switch/switch-control.js';
import type { RolloutPlan } from './plan.js';
import { RolloutStore } from './rollout-store.js';

/**
 * Everything the status page and `status --watch` show, per service: the switch status (live/idle,
 * instances per color with health, weights, render hosts), the recent history and the rollout.
 * Read-only; one snapshot of Consul per call.
 */
export interface ServiceOverview extends ServiceStatus {
  history: HistoryEntry[];
  rollout: RolloutPlan | undefined;
}

export interface Overview {
  at: string;
  services: ServiceOverview[];
}

export async function readOverview(
  control: SwitchControl,
  kvPrefix: string,
  historyLimit = 15,
  service?: string,
): Promise<Overview> {
  const states = new SwitchStateStore(control.consulClient, kvPrefix);
  const rollouts = new RolloutStore(control.consulClient, kvPrefix);
  const [statuses, plans] = await Promise.all([control.status(service), rollouts.list()]);
  const services = await Promise.all(
    statuses.map(async (s): Promise<ServiceOverview> => {
      const h = await states.readHistory(s.service);
      return {
        ...s,
        history: h.entries.slice(-historyLimit).reverse(),
        rollout: plans.plans.find((p) => p.service === s.service),
        problems: [...s.problems, ...h.problems, ...plans.problems],
      };
    }),
  );
  return { at: new Date().toISOString(), services };
}

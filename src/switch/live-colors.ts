import type { ConsulClient } from '../consul/consul-client.js';
import type { LiveColorSource, LiveColorView } from '../registrar/live-color-guard.js';
import { isMaintenanceCheck } from '../snapshot/build-snapshot.js';
import { effectiveLive } from './decisions.js';
import { DEFAULT_COLOR_TAGS, healthByColor, viewInstance } from './instance-health.js';
import { SwitchStateStore } from './state-store.js';

/**
 * The register role's view of a service's live color, for the live-color guard: the state `switch`
 * wrote in KV and every instance in the Consul catalog (registered by any host), judged by the same
 * rule the render role and the switch commands use (effectiveLive).
 */
export class ConsulLiveColors implements LiveColorSource {
  private readonly store: SwitchStateStore;

  constructor(
    private readonly consul: ConsulClient,
    kvPrefix: string,
    private readonly colorTags: readonly string[] = DEFAULT_COLOR_TAGS,
  ) {
    this.store = new SwitchStateStore(consul, kvPrefix);
  }

  async liveColor(service: string): Promise<LiveColorView> {
    const [stored, { value }] = await Promise.all([this.store.readState(service), this.consul.healthService(service)]);
    const live = effectiveLive(stored.state, healthByColor(value, this.colorTags));
    if (live === undefined) return { live, instances: [] };
    const instances = value
      .filter((i) => viewInstance(i, this.colorTags).color === live)
      .map((i) => {
        const m = i.checks.find((c) => isMaintenanceCheck(c) && c.serviceId === i.serviceId);
        return {
          serviceId: i.serviceId,
          node: i.node,
          meta: i.meta,
          ...(m ? { maintenance: m.notes ?? '' } : {}),
        };
      });
    return { live, instances };
  }
}

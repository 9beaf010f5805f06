import type { ConsulClient } from '../consul/consul-client.js';
import { parseServiceState, stateKey } from '../domain/service-state.js';
import { allowedByLabel, guardLiveColor, type LiveGuardCheck } from '../registrar/live-guard.js';
import { META_COLOR, META_CONTAINER_NAME, META_IMAGE } from '../registrar/meta-keys.js';
import { effectiveLive } from './decisions.js';
import { DEFAULT_COLOR_TAGS, healthByColor } from './instance-health.js';

/**
 * The I/O half of guarding the live color, handed to the registrar by the composition root: reads
 * the service's state and instances from Consul, judges what is live with the switch's own rule, and
 * asks the pure guardLiveColor (registrar/live-guard.ts).
 */
export function liveGuardCheck(
  consul: ConsulClient,
  kvPrefix: string,
  options: { allowAll: boolean; colorTags?: readonly string[] },
): LiveGuardCheck {
  return async (d, info) => {
    const [stored, health] = await Promise.all([
      consul.kvGet(stateKey(kvPrefix, d.name)),
      consul.healthService(d.name),
    ]);
    const parsed = stored ? parseServiceState(stored.value) : undefined;
    const live = effectiveLive(
      parsed?.ok ? parsed.value : undefined,
      healthByColor(health.value, options.colorTags ?? DEFAULT_COLOR_TAGS),
    );
    const decision = guardLiveColor({
      service: d.name,
      container: info.name,
      color: d.meta[META_COLOR],
      image: d.meta[META_IMAGE] ?? info.image,
      version: d.meta.version,
      live,
      liveInstances: health.value
        .filter((i) => i.meta[META_COLOR] === live && i.serviceId !== d.id)
        .map((i) => ({
          container: i.meta[META_CONTAINER_NAME] ?? i.serviceId,
          image: i.meta[META_IMAGE] ?? '',
          version: i.meta.version,
        })),
      allow: options.allowAll || allowedByLabel(info.labels),
    });
    return decision.held ? decision.reason : undefined;
  };
}

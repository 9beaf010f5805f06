import type { Snapshot } from '../snapshot/snapshot.js';
import { sameWeights } from '../domain/weights.js';

/**
 * What a render host counts in switchyard_switches_total once a config is live: each service whose
 * live color or canary weights differ from the previously applied snapshot. Pure; the render
 * pipeline calls it with the applied and the new snapshot.
 */
export interface LiveChange {
  service: string;
  /** switch: the live color changed; canary: only the weights did. */
  action: 'switch' | 'canary';
  from: string | undefined;
  to: string | undefined;
  weights: Readonly<Record<string, number>> | undefined;
}

export function liveChanges(previous: Snapshot | undefined, next: Snapshot): LiveChange[] {
  // The first config after start-up is not a switch: nothing was served before it.
  if (!previous) return [];
  const before = new Map(previous.services.map((s) => [s.name, s]));
  const out: LiveChange[] = [];
  for (const s of next.services) {
    const old = before.get(s.name);
    if (!old) continue;
    const weights = s.state?.weights;
    if (old.live !== s.live) out.push({ service: s.name, action: 'switch', from: old.live, to: s.live, weights });
    else if (!sameWeights(old.state?.weights, weights))
      out.push({ service: s.name, action: 'canary', from: old.live, to: s.live, weights });
  }
  return out;
}

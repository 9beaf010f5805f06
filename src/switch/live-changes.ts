import type { Snapshot } from '../snapshot/snapshot.js';

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

function sameWeights(a?: Readonly<Record<string, number>>, b?: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
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

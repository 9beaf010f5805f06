import type { RendererReport } from '../domain/service-state.js';
import type { Snapshot } from './snapshot.js';

/**
 * The part of a renderer report a snapshot decides: which color each service's installed config
 * serves, and with which weights. `switch --wait` compares it with the state it wrote.
 */
export function reportedServices(snapshot: Snapshot): RendererReport['services'] {
  const out: RendererReport['services'] = {};
  for (const s of snapshot.services) {
    out[s.name] = {
      ...(s.live !== undefined ? { live: s.live } : {}),
      ...(s.state?.weights ? { weights: { ...s.state.weights } } : {}),
    };
  }
  return out;
}

export function rendererReport(node: string, snapshot: Snapshot, at: Date): RendererReport {
  return { node, at: at.toISOString(), services: reportedServices(snapshot) };
}

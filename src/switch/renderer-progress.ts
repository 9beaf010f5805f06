import type { RendererReport } from '../domain/service-state.js';
import { sameWeights } from '../domain/weights.js';

/**
 * Which render hosts serve what a switch wrote. Pure: `switch --wait` and `status` feed it the
 * reports every render host writes after each config goes live.
 */
export interface RendererHostProgress {
  node: string;
  at: string;
  live: string | undefined;
  weights: Record<string, number> | undefined;
  inSync: boolean;
}

export interface RendererProgress {
  service: string;
  expect: { live: string; weights?: Record<string, number> };
  /** Hosts whose report mentions the service; hosts not serving it are left out. */
  hosts: RendererHostProgress[];
  /** At least one host serves the service and every one of them is in sync. */
  done: boolean;
}

export function rendererProgress(
  service: string,
  expect: RendererProgress['expect'],
  reports: readonly RendererReport[],
): RendererProgress {
  const hosts = reports
    .filter((r) => r.services[service] !== undefined)
    .map((r): RendererHostProgress => {
      const s = r.services[service]!;
      return {
        node: r.node,
        at: r.at,
        live: s.live,
        weights: s.weights,
        inSync: s.live === expect.live && sameWeights(s.weights, expect.weights),
      };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
  return { service, expect, hosts, done: hosts.length > 0 && hosts.every((h) => h.inSync) };
}

export function describeProgress(p: RendererProgress): string {
  if (p.hosts.length === 0) return `no render host has reported serving ${p.service} yet`;
  const ready = p.hosts.filter((h) => h.inSync).length;
  const pending = p.hosts.filter((h) => !h.inSync).map((h) => `${h.node} (serves ${h.live ?? 'nothing'})`);
  return `${ready}/${p.hosts.length} render hosts serve ${p.expect.live} for ${p.service}${
    pending.length ? `; waiting for ${pending.join(', ')}` : ''
  }`;
}

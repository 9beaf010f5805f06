import type { ServiceState } from '../domain/service-state.js';

/**
 * The one home of the live/idle rule. The snapshot builder, the switch decisions and `status` all
 * ask here; templates read the snapshot's `live` and `idle`.
 */

/**
 * The color serving the main port: the stored one, else — so a fresh stack serves without a manual
 * step — the first color, in name order, with a passing instance. undefined when there is neither.
 */
export function liveColor(
  state: Pick<ServiceState, 'live'> | undefined,
  passingByColor: ReadonlyMap<string, number>,
): string | undefined {
  return (
    state?.live ??
    [...passingByColor.entries()]
      .filter(([, n]) => n > 0)
      .map(([c]) => c)
      .sort()[0]
  );
}

/**
 * The color on the preview port: none without a live color; else the previous live color when it
 * still has instances, else the first other color with instances, in name order.
 */
export function idleColor(
  live: string | undefined,
  state: Pick<ServiceState, 'previous'> | undefined,
  colorsWithInstances: Iterable<string>,
): string | undefined {
  if (live === undefined) return undefined;
  const others = [...new Set(colorsWithInstances)].filter((c) => c !== live).sort();
  return state?.previous !== undefined && others.includes(state.previous) ? state.previous : others[0];
}

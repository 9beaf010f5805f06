import type { ServiceRegistration } from '../consul/consul-client.js';
import type { ContainerInfo } from '../docker/docker-client.js';

/**
 * Guard the live color (docs/registering.md#guarding-the-live-color). A blue-green user deploys into
 * the idle color; a new container carrying the *live* color but another image (or SERVICE_VERSION)
 * than the live instances would silently mix two versions on the main port. Such an instance is
 * registered held out of rotation (Consul maintenance, with this reason) unless the container or
 * the daemon allows it. Pure: the caller reads the live color and the live instances.
 */
export interface LiveInstanceView {
  container: string;
  image: string;
  version: string | undefined;
}

export interface GuardInput {
  service: string;
  container: string;
  color: string | undefined;
  image: string;
  version: string | undefined;
  /** The service's live color (stored, or the default rule's). */
  live: string | undefined;
  /** The live color's other instances (any health), from Consul. */
  liveInstances: readonly LiveInstanceView[];
  /** The container's label or the daemon's option says a mixed live color is intended. */
  allow: boolean;
}

export type GuardDecision = { held: false } | { held: true; reason: string };

export function guardLiveColor(g: GuardInput): GuardDecision {
  if (g.allow || g.color === undefined || g.color !== g.live) return { held: false };
  const others = g.liveInstances.filter((i) => i.container !== g.container);
  // The first instance of a color, or a color nobody serves yet, cannot mix versions.
  if (others.length === 0) return { held: false };
  const images = [...new Set(others.map((i) => i.image))].sort();
  const versions = [...new Set(others.map((i) => i.version).filter((v): v is string => v !== undefined))].sort();
  const sameImage = images.includes(g.image);
  const sameVersion = g.version === undefined || versions.length === 0 || versions.includes(g.version);
  if (sameImage && sameVersion) return { held: false };
  const what = !sameImage
    ? `image ${g.image} differs from the live instances' ${images.join(', ')}`
    : `SERVICE_VERSION ${g.version} differs from the live instances' ${versions.join(', ')}`;
  const example = others.find((i) => (!sameImage ? i.image !== g.image : i.version !== g.version)) ?? others[0]!;
  return {
    held: true,
    reason: `held out of the live color ${g.live} of ${g.service}: container ${g.container}'s ${what} (e.g. ${example.container}); deploy into the idle color, or label it switchyard.allow-live=true to mix on purpose`,
  };
}

/** Container label that lets one container join the live color with another image or version. */
export const ALLOW_LIVE_LABEL = 'switchyard.allow-live';

/** Whether a container's labels allow it (`switchyard.allow-live=true`). */
export function allowedByLabel(labels: Readonly<Record<string, string>>): boolean {
  return ['1', 'true', 'yes', 'on'].includes((labels[ALLOW_LIVE_LABEL] ?? '').trim().toLowerCase());
}

/** What the registrar asks before registering a colored service: a maintenance reason, or undefined. */
export type LiveGuardCheck = (
  registration: ServiceRegistration,
  container: ContainerInfo,
) => Promise<string | undefined>;

import type { ServiceCheck, ServiceRegistration } from '../consul/consul-client.js';
import { META_COLOR, META_CONTAINER_NAME, META_IMAGE, META_IMAGE_ID, META_VERSION } from './meta-keys.js';

/**
 * Guard the live color (pure): a new instance that carries the live color but runs another image
 * (or SERVICE_VERSION) than the live instances would silently mix two versions on the main port.
 * Such an instance is registered held out of rotation (Consul maintenance with a reason naming the
 * container and both images) until that is no longer true. See docs/registering.md, "The live-color
 * guard".
 *
 * Which color is live is the switch's rule (src/switch); the registrar is handed the result through
 * LiveColorSource, read from the Consul catalog so instances registered by other hosts count.
 */

/** One instance of the service as the Consul catalog shows it, registered by any host. */
export interface CatalogInstance {
  serviceId: string;
  node: string;
  meta: Readonly<Record<string, string>>;
  /** Its Consul maintenance reason, when it is in maintenance. */
  maintenance?: string;
}

/** A service's live color and that color's instances, cluster-wide. */
export interface LiveColorView {
  live: string | undefined;
  /** The instances of the live color only. */
  instances: readonly CatalogInstance[];
}

export interface LiveColorSource {
  liveColor(service: string): Promise<LiveColorView>;
}

/** Container label that allows this container into the live color whatever its image. */
export const ALLOW_LIVE_MIX_LABEL = 'switchyard.allow-live-mix';

const HOLD_REASON = 'switchyard: held out of the live color: ';
const HOLD_CHECK_SUFFIX = ':live-guard';

export function isHoldReason(reason: string | undefined): boolean {
  return reason?.startsWith(HOLD_REASON) === true;
}

export function holdCheckId(serviceId: string): string {
  return `${serviceId}${HOLD_CHECK_SUFFIX}`;
}

/**
 * A critical check registered together with a held instance, so it is never in rotation, not even
 * for the moment between its registration and its maintenance.
 */
export function holdCheck(serviceId: string, reason: string): ServiceCheck {
  return {
    checkId: holdCheckId(serviceId),
    name: 'Switchyard live-color guard',
    ttl: '72h',
    status: 'critical',
    notes: reason,
  };
}

/** `true`, `1`, `yes` or `on` (any case) on the container's ALLOW_LIVE_MIX_LABEL. */
export function allowsLiveMix(labels: Readonly<Record<string, string>>): boolean {
  const v = labels[ALLOW_LIVE_MIX_LABEL]?.trim().toLowerCase();
  return v === 'true' || v === '1' || v === 'yes' || v === 'on';
}

export type GuardVerdict =
  { held: true; reason: string } | { held: false; why: 'not-live' | 'allowed' | 'no-other-instance' | 'same-version' };

/** What makes two instances the same version: the image (by ID when both know it) and SERVICE_VERSION. */
export function sameVersion(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const idA = a[META_IMAGE_ID];
  const idB = b[META_IMAGE_ID];
  const sameImage = idA && idB ? idA === idB : a[META_IMAGE] === b[META_IMAGE];
  return sameImage && (a[META_VERSION] ?? '') === (b[META_VERSION] ?? '');
}

/**
 * Held or not: `candidate` is about to enter rotation (a new registration, or one held before).
 * The reference is every other instance of the live color that is not itself held and says which
 * image it runs (instances registered by hand or by another tool carry no image Meta and are not
 * compared). With no such instance there is nothing to mix with; with one of the same version the
 * live color scales.
 */
export function guardLiveColor(
  candidate: Pick<ServiceRegistration, 'id' | 'meta'>,
  view: LiveColorView | undefined,
  allow: boolean,
): GuardVerdict {
  if (allow) return { held: false, why: 'allowed' };
  const color = candidate.meta[META_COLOR];
  if (color === undefined || view?.live !== color) return { held: false, why: 'not-live' };
  const reference = view.instances.filter(
    (i) => i.serviceId !== candidate.id && !isHoldReason(i.maintenance) && i.meta[META_IMAGE] !== undefined,
  );
  if (reference.length === 0) return { held: false, why: 'no-other-instance' };
  if (reference.some((i) => sameVersion(candidate.meta, i.meta))) return { held: false, why: 'same-version' };
  const names = new Set(reference.map((i) => i.meta[META_IMAGE]));
  // Same name, other image (a rebuilt :latest): only the IDs tell them apart.
  const withId = names.has(candidate.meta[META_IMAGE]);
  const live = [...new Set(reference.map((i) => describe(i.meta, withId)))].sort();
  const container = candidate.meta[META_CONTAINER_NAME] ?? candidate.id;
  return {
    held: true,
    reason: `${HOLD_REASON}container ${container} runs ${describe(candidate.meta, withId)}, live ${color} runs ${live.join(' and ')}`,
  };
}

function describe(meta: Readonly<Record<string, string>>, withId: boolean): string {
  const id = meta[META_IMAGE_ID]?.replace(/^sha256:/, '').slice(0, 12);
  const version = meta[META_VERSION];
  return `${meta[META_IMAGE] ?? '?'}${withId && id ? ` (${id})` : ''}${version !== undefined ? ` version ${version}` : ''}`;
}

import type { HealthInstance } from '../consul/consul-client.js';
import type { CheckStatus } from '../domain/check-status.js';
import { DEFAULT_COLORS, instanceColor, instanceHealth, isMaintenanceCheck } from '../snapshot/build-snapshot.js';
import { oneLine } from '../log/text.js';

/**
 * How the control commands judge instances, with the same rules as the render role's snapshot: an
 * instance's color is its `color` Meta value (else a tag naming one of the known colors); it is
 * passing when every one of its own and its node's checks passes and neither it nor its node is in
 * Consul maintenance. Only passing instances take traffic, so only they count towards `--min-passing`.
 */
export interface InstanceView {
  id: string;
  node: string;
  address: string;
  port: number;
  /** undefined for an instance without a (valid) color: it never takes part in a switch. */
  color: string | undefined;
  /** Worst status among its own and its node's checks; passing when it has none. */
  health: CheckStatus;
  maintenance: boolean;
  passing: boolean;
  /** The output of the first failing check, so `status` can say why an instance is out. */
  why?: string;
}

export interface ColorHealth {
  color: string;
  total: number;
  passing: number;
  instances: InstanceView[];
}

/** The render role's default color tags, for instances without a `color` Meta key. */
export const DEFAULT_COLOR_TAGS: readonly string[] = DEFAULT_COLORS;

// Health and color come from the snapshot builder's own functions, so a switch gate and the
// proxy config can never disagree about which instances take traffic.
export function viewInstance(i: HealthInstance, colorTags: readonly string[] = DEFAULT_COLOR_TAGS): InstanceView {
  const health = instanceHealth(i);
  const own = i.checks.filter((c) => c.serviceId === '' || c.serviceId === i.serviceId);
  const maintenanceCheck = own.find(isMaintenanceCheck);
  const failing = own.find((c) => c.status !== 'passing' && !isMaintenanceCheck(c));
  // Consul keeps a maintenance reason in the check's Notes (its Output stays empty).
  const reason = maintenanceCheck ? maintenanceCheck.notes || maintenanceCheck.output : '';
  const why = maintenanceCheck
    ? `maintenance${reason ? `: ${oneLine(reason, 300)}` : ''}`
    : failing
      ? `${failing.name || failing.checkId} is ${failing.status}${failing.output ? `: ${oneLine(failing.output)}` : ''}`
      : undefined;
  return {
    id: i.serviceId,
    node: i.node,
    address: i.address,
    port: i.port,
    color: instanceColor(i, colorTags).color,
    health,
    maintenance: maintenanceCheck !== undefined,
    passing: health === 'passing' && maintenanceCheck === undefined,
    ...(why !== undefined ? { why } : {}),
  };
}

/** Instances grouped by color, colors in name order; uncolored instances are left out. */
export function healthByColor(
  instances: readonly HealthInstance[],
  colorTags: readonly string[] = DEFAULT_COLOR_TAGS,
): Map<string, ColorHealth> {
  const views = instances
    .map((i) => viewInstance(i, colorTags))
    .filter((v): v is InstanceView & { color: string } => !!v.color);
  views.sort((a, b) => a.color.localeCompare(b.color) || a.address.localeCompare(b.address) || a.port - b.port);
  const out = new Map<string, ColorHealth>();
  for (const v of views) {
    const entry = out.get(v.color) ?? { color: v.color, total: 0, passing: 0, instances: [] };
    entry.total += 1;
    if (v.passing) entry.passing += 1;
    entry.instances.push(v);
    out.set(v.color, entry);
  }
  return out;
}

export function passingByColor(byColor: ReadonlyMap<string, ColorHealth>): Map<string, number> {
  return new Map([...byColor].map(([c, h]) => [c, h.passing]));
}

export function passingOf(byColor: ReadonlyMap<string, ColorHealth>, color: string): number {
  return byColor.get(color)?.passing ?? 0;
}

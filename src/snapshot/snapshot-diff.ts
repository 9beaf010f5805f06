import { deepEqual } from './deep-equal.js';
import type { Instance, ServiceSnapshot, Snapshot } from './snapshot.js';
import { weightsText, type Weights } from '../domain/weights.js';

/** Two snapshots that would render the same config: equal in every field. */
export function snapshotsEqual(a: Snapshot, b: Snapshot): boolean {
  return deepEqual(a, b);
}

const instanceKey = (i: Instance): string => `${i.node}/${i.id}`;
const where = (i: Instance): string => `${i.address}:${i.port}${i.color ? ` (${i.color})` : ''}`;

/**
 * What changed between two snapshots, in words an operator reads in the reload log line:
 * "app: green became live (was blue)", "app: instance 10.0.0.5:8080 (green) added".
 */
export function describeChanges(prev: Snapshot | undefined, next: Snapshot): string[] {
  if (!prev) {
    const n = next.services.reduce((sum, s) => sum + s.instances.length, 0);
    return [`first config: ${next.services.length} services, ${n} instances`];
  }
  const out: string[] = [];
  const before = new Map(prev.services.map((s) => [s.name, s]));
  const after = new Map(next.services.map((s) => [s.name, s]));
  for (const [name, s] of after) {
    const old = before.get(name);
    if (!old)
      out.push(`${name}: service appeared with ${s.instances.length} instances${s.live ? `, ${s.live} live` : ''}`);
    else out.push(...describeService(old, s));
  }
  for (const name of before.keys()) if (!after.has(name)) out.push(`${name}: service gone`);
  return out;
}

function describeService(a: ServiceSnapshot, b: ServiceSnapshot): string[] {
  const out: string[] = [];
  const name = b.name;
  if (a.live !== b.live)
    out.push(b.live ? `${name}: ${b.live} became live${a.live ? ` (was ${a.live})` : ''}` : `${name}: no live color`);
  else if (a.idle !== b.idle) out.push(`${name}: idle color is now ${b.idle ?? 'none'}`);
  if (!deepEqual(a.state?.weights, b.state?.weights))
    out.push(`${name}: weights now ${weightsOrNone(b.state?.weights)} (were ${weightsOrNone(a.state?.weights)})`);
  const before = new Map(a.instances.map((i) => [instanceKey(i), i]));
  const after = new Map(b.instances.map((i) => [instanceKey(i), i]));
  for (const [k, i] of after) {
    const old = before.get(k);
    if (!old) {
      out.push(`${name}: instance ${where(i)} added${i.health !== 'passing' ? `, ${i.health}` : ''}`);
      continue;
    }
    if (old.address !== i.address || old.port !== i.port || old.color !== i.color)
      out.push(`${name}: instance ${where(old)} is now ${where(i)}`);
    if (old.health !== i.health) out.push(`${name}: instance ${where(i)} is now ${i.health} (was ${old.health})`);
    if (old.maintenance !== i.maintenance)
      out.push(`${name}: instance ${where(i)} ${i.maintenance ? 'entered' : 'left'} maintenance`);
    if (!deepEqual(old.tags, i.tags) || !deepEqual(old.meta, i.meta))
      out.push(`${name}: instance ${where(i)} tags or meta changed`);
  }
  for (const [k, i] of before) if (!after.has(k)) out.push(`${name}: instance ${where(i)} removed`);
  if (out.length === 0 && !deepEqual(a.state, b.state)) out.push(`${name}: blue-green state updated`);
  return out;
}

/** Joins change descriptions for one log line, keeping it readable when hundreds changed. */
export function summarizeChanges(changes: readonly string[], limit = 8): string {
  if (changes.length === 0) return 'no change';
  // Identical lines (several instances behind one address) are counted, not repeated.
  const counts = new Map<string, number>();
  for (const c of changes) counts.set(c, (counts.get(c) ?? 0) + 1);
  const lines = [...counts].map(([c, n]) => (n > 1 ? `${c} (×${n})` : c));
  const shown = lines.slice(0, limit).join('; ');
  return lines.length > limit ? `${shown}; and ${lines.length - limit} more` : shown;
}

function weightsOrNone(w: Weights | undefined): string {
  return w ? weightsText(w) : 'none';
}

const served = (i: Instance): boolean => i.health === 'passing' && !i.maintenance;

/**
 * The change from `prev` to `next` only grows what is served: every difference is an instance
 * added (in a color the service already had) or an instance that now gets traffic (passing and out
 * of maintenance) and did not before. Nothing removed, no instance that loses traffic or changes
 * address, port, color, tags or meta, no live or idle color, weight or state change, no service
 * appearing or going. The render pipeline lets growth during a burst wait longer (`--growth-wait`):
 * delaying it costs only the time before new capacity is used, never a request sent to something gone.
 * False when nothing changed, and for the first config.
 */
export function isGrowth(prev: Snapshot | undefined, next: Snapshot): boolean {
  if (!prev || prev.services.length !== next.services.length) return false;
  const before = new Map(prev.services.map((s) => [s.name, s]));
  let grew = false;
  for (const s of next.services) {
    const old = before.get(s.name);
    if (!old || old.live !== s.live || old.idle !== s.idle || !deepEqual(old.state, s.state)) return false;
    const oldInstances = new Map(old.instances.map((i) => [instanceKey(i), i]));
    const colors = new Set(old.instances.map((i) => i.color));
    let kept = 0;
    for (const i of s.instances) {
      const was = oldInstances.get(instanceKey(i));
      if (!was) {
        // A color new to the service brings its own backend (preview, per-color routing).
        if (!colors.has(i.color)) return false;
        grew = true;
        continue;
      }
      kept += 1;
      if (deepEqual(was, i)) continue;
      const sameOtherwise = deepEqual({ ...was, health: i.health, maintenance: i.maintenance }, i);
      if (!sameOtherwise || served(was) || !served(i)) return false;
      grew = true;
    }
    if (kept !== old.instances.length) return false;
  }
  return grew;
}

import { describe, expect, it } from '@jest/globals';
import { isGrowth } from '../../../src/snapshot/snapshot-diff.js';
import type { Instance, ServiceSnapshot, Snapshot } from '../../../src/snapshot/snapshot.js';
import { instance } from '../../fixtures/golden/snapshots.js';

const inst = (n: number, o: Partial<Instance> = {}): Instance => instance('app', n, 'blue', o);

function snap(instances: Instance[], o: Partial<ServiceSnapshot> = {}, more: ServiceSnapshot[] = []): Snapshot {
  return {
    services: [{ name: 'app', instances, state: { live: 'blue' }, live: 'blue', idle: undefined, ...o }, ...more],
  };
}

const base = [inst(1), inst(2)];

describe('isGrowth: a change that only grows what is served', () => {
  it('is growth when instances are added, or turn passing, in colors the service has', () => {
    expect(isGrowth(snap(base), snap([...base, inst(3)]))).toBe(true);
    expect(isGrowth(snap(base), snap([...base, inst(3, { health: 'critical' })]))).toBe(true);
    const starting = [...base, inst(3, { health: 'critical' })];
    expect(isGrowth(snap(starting), snap([...base, inst(3)]))).toBe(true);
    const drained = [...base, inst(3, { maintenance: true })];
    expect(isGrowth(snap(drained), snap([...base, inst(3)]))).toBe(true);
  });

  it('is not growth when anything is removed or loses traffic', () => {
    expect(isGrowth(snap(base), snap([inst(1)]))).toBe(false);
    // One added and one removed in the same change: still a removal.
    expect(isGrowth(snap(base), snap([inst(1), inst(3)]))).toBe(false);
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { health: 'critical' })]))).toBe(false);
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { health: 'warning' })]))).toBe(false);
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { maintenance: true })]))).toBe(false);
  });

  it('is not growth when an instance changes otherwise', () => {
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { port: 9090 })]))).toBe(false);
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { address: '10.0.0.9' })]))).toBe(false);
    expect(isGrowth(snap(base), snap([inst(1), inst(2, { meta: { color: 'blue', weight: '5' } })]))).toBe(false);
    // Not served before or after: not more capacity, so nothing to call growth.
    const warn = [inst(1), inst(2, { health: 'warning' })];
    expect(isGrowth(snap(warn), snap([inst(1), inst(2, { health: 'critical' })]))).toBe(false);
  });

  it('is not growth when the blue-green state, a color or the service set changes', () => {
    const green = instance('app', 1, 'green');
    // The first green instance: a new color (its backend, the preview port).
    expect(isGrowth(snap(base), snap([...base, green]))).toBe(false);
    expect(isGrowth(snap(base), snap([...base, inst(3)], { live: 'green' }))).toBe(false);
    expect(isGrowth(snap(base), snap([...base, inst(3)], { state: { live: 'blue', weights: { blue: 90 } } }))).toBe(
      false,
    );
    const web: ServiceSnapshot = { name: 'web', instances: [], state: undefined, live: undefined, idle: undefined };
    expect(isGrowth(snap(base), snap(base, {}, [web]))).toBe(false);
    expect(isGrowth(snap(base, {}, [web]), snap(base))).toBe(false);
  });

  it('is not growth for the first config or when nothing changed', () => {
    expect(isGrowth(undefined, snap(base))).toBe(false);
    expect(isGrowth(snap(base), snap(base))).toBe(false);
  });
});

import { describe, expect, it } from '@jest/globals';
import type { ServiceSnapshot, Snapshot } from '../../../src/snapshot/snapshot.js';
import { liveChanges } from '../../../src/switch/live-changes.js';

const svc = (name: string, live: string | undefined, weights?: Record<string, number>): ServiceSnapshot => ({
  name,
  instances: [],
  state: live ? { live, ...(weights ? { weights } : {}) } : undefined,
  live,
  idle: undefined,
});
const snap = (...services: ServiceSnapshot[]): Snapshot => ({ services });

describe('live changes a render host counts', () => {
  it('counts a live color change as a switch and a weight change as a canary step', () => {
    expect(
      liveChanges(
        snap(svc('app', 'blue'), svc('api', 'blue')),
        snap(svc('app', 'green'), svc('api', 'blue', { blue: 90, green: 10 })),
      ),
    ).toEqual([
      { service: 'app', action: 'switch', from: 'blue', to: 'green', weights: undefined },
      { service: 'api', action: 'canary', from: 'blue', to: 'blue', weights: { blue: 90, green: 10 } },
    ]);
  });
  it('counts nothing for the first config, new services, or unchanged ones', () => {
    expect(liveChanges(undefined, snap(svc('app', 'blue')))).toEqual([]);
    expect(liveChanges(snap(svc('app', 'blue')), snap(svc('app', 'blue'), svc('new', 'green')))).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { chooseWait, effectiveGrowthWait, type WaitChoiceInput } from '../../../src/render/growth-wait.js';
import type { Instance, Snapshot } from '../../../src/snapshot/snapshot.js';
import { instance } from '../../fixtures/golden/snapshots.js';

const inst = (n: number): Instance => instance('app', n, 'blue');
const snap = (...ns: number[]): Snapshot => ({
  services: [{ name: 'app', instances: ns.map(inst), state: { live: 'blue' }, live: 'blue', idle: undefined }],
});

const WAIT = { minMs: 250, maxMs: 1000 };
const GROWTH = { minMs: 2000, maxMs: 30_000 };
const NOW = 100_000;
const quietSpell: WaitChoiceInput = {
  wait: WAIT,
  growthWait: GROWTH,
  applied: snap(1, 2),
  next: snap(1, 2, 3),
  failing: false,
  waitPending: false,
  growthReloading: false,
  lastGrowthReloadAt: NOW - 60_000,
  now: NOW,
};

describe('effectiveGrowthWait', () => {
  it('is off for 0s or a range no longer than --wait, and never shorter than --wait', () => {
    expect(effectiveGrowthWait(WAIT, { minMs: 0, maxMs: 0 })).toBeUndefined();
    expect(effectiveGrowthWait(WAIT, WAIT)).toBeUndefined();
    expect(effectiveGrowthWait(WAIT, undefined)).toBeUndefined();
    expect(effectiveGrowthWait(WAIT, GROWTH)).toEqual(GROWTH);
    expect(effectiveGrowthWait(WAIT, { minMs: 100, maxMs: 10_000 })).toEqual({ minMs: 250, maxMs: 10_000 });
  });
});

describe('chooseWait', () => {
  it('gives the first growth after a quiet spell the normal wait', () => {
    expect(chooseWait(quietSpell)).toEqual({ range: WAIT, growth: false });
    expect(chooseWait({ ...quietSpell, lastGrowthReloadAt: undefined })).toEqual({ range: WAIT, growth: false });
  });

  it('gives growth during a burst the growth wait', () => {
    const burst = { range: GROWTH, growth: true };
    expect(chooseWait({ ...quietSpell, lastGrowthReloadAt: NOW - 1999 })).toEqual(burst);
    expect(chooseWait({ ...quietSpell, lastGrowthReloadAt: NOW - 2000 })).toEqual({ range: WAIT, growth: false });
    expect(chooseWait({ ...quietSpell, waitPending: true })).toEqual(burst);
    expect(chooseWait({ ...quietSpell, growthReloading: true })).toEqual(burst);
  });

  it('gives everything else the normal wait, burst or not', () => {
    const burst = { ...quietSpell, lastGrowthReloadAt: NOW - 100, waitPending: true };
    expect(chooseWait({ ...burst, next: snap(2, 3) })).toEqual({ range: WAIT, growth: false });
    expect(chooseWait({ ...burst, failing: true })).toEqual({ range: WAIT, growth: false });
    expect(chooseWait({ ...burst, growthWait: undefined })).toEqual({ range: WAIT, growth: false });
  });
});

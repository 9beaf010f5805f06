import { describe, expect, it } from '@jest/globals';
import { stepWeights, tick, type TickInput } from '../../../src/rollout/machine.js';
import { DEFAULT_GATE, newPlan, parsePlan, type RolloutPlan } from '../../../src/rollout/plan.js';
import { bucketOf, colorWindow, percentile, type TrafficTotals } from '../../../src/domain/traffic.js';
import type { ColorHealth } from '../../../src/switch/instance-health.js';
import type { ServiceState } from '../../../src/domain/service-state.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

function health(counts: Record<string, number>): Map<string, ColorHealth> {
  return new Map(
    Object.entries(counts).map(([color, passing]) => [color, { color, passing, total: passing, instances: [] }]),
  );
}

function plan(extra: Partial<RolloutPlan> = {}): RolloutPlan {
  return {
    ...newPlan({
      service: 'app',
      color: 'green',
      stable: 'blue',
      steps: [10, 50, 100],
      intervalMs: 10_000,
      gate: { ...DEFAULT_GATE, minRequests: 10 },
      sticky: true,
      minPassing: 1,
      by: 'alice@ops',
      now: at(0),
    }),
    ...extra,
  };
}

/** Counters on one render host: requests and 5xx per color, latency in the 25 ms bucket. */
function traffic(green: [number, number], blue: [number, number] = [1000, 0], slowGreen = 0): TrafficTotals {
  const hist = (n: number, slow = 0) => {
    const h = new Array<number>(13).fill(0);
    h[bucketOf(20)] = n - slow;
    h[bucketOf(900)] = slow;
    return h;
  };
  return {
    lb1: {
      green: { requests: green[0], errors: green[1], histogram: hist(green[0], slowGreen) },
      blue: { requests: blue[0], errors: blue[1], histogram: hist(blue[0]) },
    },
  };
}

function input(
  p: RolloutPlan,
  s: number,
  state: ServiceState | undefined,
  t?: TrafficTotals,
  h: Record<string, number> = { blue: 2, green: 2 },
): TickInput {
  return { plan: p, now: at(s), state, health: health(h), traffic: t, by: 'rollout@lb1/1' };
}

describe('rollout state machine', () => {
  it('applies the first step with a history entry naming who started it, then waits one interval', () => {
    const r = tick(input(plan(), 0, { live: 'blue' }, traffic([0, 0])));
    expect(r.change?.state).toMatchObject({ live: 'blue', weights: { blue: 90, green: 10 } });
    expect(r.change?.state.sticky).toMatch(/^[a-z0-9]+$/);
    expect(r.change?.entry).toMatchObject({ action: 'rollout-step', to: 'green' });
    expect(r.change?.entry.reason).toContain('rollout started by alice@ops: step 1 of 3 (10% to green)');
    expect(r.entries.map((e) => e.action)).toEqual(['rollout-start']);
    expect(r.plan).toMatchObject({ phase: 'running', step: 0, applied: 0, nextCheckAt: T0 + 10_000 });
    expect(r.wakeAt).toBe(T0 + 10_000);
  });

  it('waits without passing while the canary has too little traffic, noting it once per step', () => {
    const started = tick(input(plan(), 0, { live: 'blue' }, traffic([0, 0]))).plan;
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    const w1 = tick(input(started, 10, state, traffic([3, 0])));
    expect(w1.change).toBeUndefined();
    expect(w1.plan.step).toBe(0);
    expect(w1.plan.checks.at(-1)).toMatchObject({ verdict: 'wait' });
    expect(w1.entries[0]?.reason).toContain('only 3 requests reached green since the last check, need 10');
    const w2 = tick(input(w1.plan, 20, state, traffic([6, 0])));
    expect(w2.entries).toEqual([]);
    // The window kept growing from the step's start: 12 requests now judge, and pass.
    const p = tick(input(w2.plan, 30, state, traffic([12, 0])));
    expect(p.plan.checks.at(-1)?.verdict).toBe('pass');
    expect(p.plan.step).toBe(1);
  });

  it('records a passing check, then applies the next step on the following tick', () => {
    const started = tick(input(plan(), 0, { live: 'blue' }, traffic([0, 0]))).plan;
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    const passed = tick(input(started, 10, state, traffic([100, 0], [900, 1])));
    expect(passed.change).toBeUndefined();
    expect(passed.plan).toMatchObject({ step: 1, applied: 0 });
    expect(passed.wakeAt).toBe(T0 + 10_000);
    expect(passed.plan.checks.at(-1)?.why).toContain('green: 100% success, 25 ms over 100 requests');
    expect(passed.plan.checks.at(-1)?.why).toContain('blue: 99.89% success');
    const applied = tick(input(passed.plan, 10, state, traffic([100, 0])));
    expect(applied.change?.state.weights).toEqual({ blue: 50, green: 50 });
    expect(applied.change?.entry.reason).toContain('step 2 of 3 (50% to green) after a passing check');
  });

  it('aborts back to the stable color after maxFailures failing checks in a row, naming metric, value and threshold', () => {
    let p = tick(
      input(plan({ gate: { ...DEFAULT_GATE, minRequests: 10, maxFailures: 3 } }), 0, { live: 'blue' }, traffic([0, 0])),
    ).plan;
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    const r1 = tick(input(p, 10, state, traffic([100, 20])));
    expect(r1.entries[0]).toMatchObject({ action: 'rollout-check' });
    expect(r1.entries[0]?.reason).toContain('check failed (1 of 3 allowed in a row)');
    expect(r1.entries[0]?.reason).toContain('success rate of green 80% < 99% (20 of 100 answers were 5xx)');
    p = r1.plan;
    const r2 = tick(input(p, 20, state, traffic([200, 40])));
    const r3 = tick(input(r2.plan, 30, state, traffic([300, 40], [1000, 0], 100)));
    expect(r3.plan.phase).toBe('aborted');
    expect(r3.change?.state).toEqual(expect.objectContaining({ live: 'blue' }));
    expect(r3.change?.state.weights).toBeUndefined();
    expect(r3.change?.entry).toMatchObject({ action: 'rollout-abort', from: 'green', to: 'blue' });
    expect(r3.change?.entry.reason).toContain('p99 of green 1000 ms > 500 ms');
  });

  it('compares with the stable color when asked: a canary well below stable fails even above the threshold', () => {
    const gate = { ...DEFAULT_GATE, minRequests: 10, minSuccessRate: 90, maxSuccessDrop: 2 };
    const p = tick(input(plan({ gate }), 0, { live: 'blue' }, traffic([0, 0]))).plan;
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    const r = tick(input(p, 10, state, traffic([100, 5], [2000, 0])));
    expect(r.plan.checks.at(-1)?.verdict).toBe('fail');
    expect(r.entries[0]?.reason).toContain(
      "success rate of green 95% is 5 points below blue's 100% (at most 2 allowed)",
    );
    const ok = tick(input(p, 10, state, traffic([100, 1], [2000, 0])));
    expect(ok.plan.checks.at(-1)?.verdict).toBe('pass');
  });

  it('a passing check resets the count of failures', () => {
    let p = tick(input(plan(), 0, { live: 'blue' }, traffic([0, 0]))).plan;
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    p = tick(input(p, 10, state, traffic([100, 50]))).plan;
    expect(p.failures).toBe(1);
    p = tick(input(p, 20, state, traffic([200, 50]))).plan;
    expect(p.failures).toBe(0);
  });

  it('completes at the 100% step with the canary color live', () => {
    const p = plan({ step: 2, applied: 1, checks: [] });
    const r = tick(input(p, 50, { live: 'blue', weights: { blue: 50, green: 50 } }, traffic([10, 0])));
    expect(r.change?.state).toMatchObject({ live: 'green', previous: 'blue' });
    expect(r.change?.entry.action).toBe('rollout-complete');
    expect(r.plan.phase).toBe('completed');
  });

  it('completes after the last step below 100 passes', () => {
    const p = plan({ steps: [10, 50], step: 1, applied: 1, nextCheckAt: 0, baseline: traffic([0, 0]) });
    const r = tick(input(p, 50, { live: 'blue', weights: { blue: 50, green: 50 } }, traffic([100, 0])));
    expect(r.change?.state).toMatchObject({ live: 'green' });
    expect(r.plan.phase).toBe('completed');
  });

  it('a daemon taking over finds the state ahead of the plan and carries on', () => {
    // The last executor wrote step 2's weights and died before marking it applied.
    const p = plan({ step: 1, applied: 0 });
    const r = tick(input(p, 20, { live: 'blue', weights: { blue: 50, green: 50 } }, traffic([0, 0])));
    expect(r.plan.phase).toBe('running');
    expect(r.change).toBeUndefined();
    expect(r.plan.applied).toBe(1);
  });

  it('stops and leaves things when someone else switched or changed the weights', () => {
    const p = plan({ step: 0, applied: 0 });
    const switched = tick(input(p, 5, { live: 'red' }, undefined, { blue: 1, green: 1, red: 1 }));
    expect(switched.plan.phase).toBe('aborted');
    expect(switched.change).toBeUndefined();
    expect(switched.entries[0]?.reason).toContain('live color of app changed to red outside the rollout');
    const reweighted = tick(input(p, 5, { live: 'blue', weights: { blue: 70, green: 30 } }));
    expect(reweighted.plan.phase).toBe('aborted');
    expect(reweighted.entries[0]?.reason).toContain(
      'weights of app were changed outside the rollout (now blue=70% green=30%)',
    );
    const rolledBack = tick(input(p, 5, { live: 'blue' }));
    expect(rolledBack.plan.phase).toBe('aborted');
  });

  it('aborts when the canary has no passing instance left', () => {
    const p = plan({ step: 0, applied: 0 });
    const r = tick(input(p, 5, { live: 'blue', weights: { blue: 90, green: 10 } }, undefined, { blue: 2, green: 0 }));
    expect(r.plan.phase).toBe('aborted');
    expect(r.change?.entry.reason).toBe('green has 0 passing instances of app, need at least 1');
  });

  it('carries out pause, resume, promote and abort requests', () => {
    const state = { live: 'blue', weights: { blue: 90, green: 10 } };
    const base = plan({ step: 0, applied: 0, nextCheckAt: T0 + 10_000 });
    const req = (action: 'pause' | 'resume' | 'promote' | 'abort') => ({
      action,
      by: 'bob@ops',
      at: at(1).toISOString(),
    });
    const paused = tick(input({ ...base, request: req('pause') }, 1, state));
    expect(paused.plan.phase).toBe('paused');
    expect(paused.plan.request).toBeUndefined();
    expect(paused.entries[0]).toMatchObject({
      action: 'rollout-pause',
      reason: 'paused at step 1 of 3 (10% to green) by bob@ops',
    });
    // A paused rollout does not check, however late.
    expect(tick(input(paused.plan, 500, state, traffic([100, 100]))).plan.checks).toEqual([]);
    const resumed = tick(input({ ...paused.plan, request: req('resume') }, 600, state, traffic([5, 0])));
    expect(resumed.plan).toMatchObject({ phase: 'running', nextCheckAt: T0 + 610_000 });
    const promoted = tick(input({ ...base, request: req('promote') }, 1, state));
    expect(promoted.plan.phase).toBe('promoted');
    expect(promoted.change?.state).toMatchObject({ live: 'green', previous: 'blue' });
    expect(promoted.change?.entry.action).toBe('rollout-promote');
    const aborted = tick(input({ ...base, request: { ...req('abort'), reason: 'looks wrong' } }, 1, state));
    expect(aborted.plan.phase).toBe('aborted');
    expect(aborted.change?.entry.reason).toBe('aborted by bob@ops: looks wrong');
    expect(aborted.change?.state.weights).toBeUndefined();
  });

  it('does nothing for an ended rollout', () => {
    const r = tick(input(plan({ phase: 'aborted' }), 5, { live: 'blue' }));
    expect(r.change).toBeUndefined();
    expect(r.entries).toEqual([]);
  });

  it('derives step weights', () => {
    expect(stepWeights(plan(), -1)).toBeUndefined();
    expect(stepWeights(plan(), 0)).toEqual({ blue: 90, green: 10 });
    expect(stepWeights(plan(), 2)).toBeUndefined();
  });

  it('rejects plans that do not hold together', () => {
    expect(parsePlan(JSON.stringify(plan())).ok).toBe(true);
    expect(parsePlan('{').ok).toBe(false);
    expect(parsePlan(JSON.stringify(plan({ steps: [50, 10] })))).toMatchObject({ ok: false });
    expect(parsePlan(JSON.stringify(plan({ color: 'blue' })))).toMatchObject({ ok: false });
    expect(parsePlan(JSON.stringify(plan({ color: 'Bad Color' })))).toMatchObject({ ok: false });
  });
});

describe('traffic windows', () => {
  it('sums hosts, subtracts the baseline and counts a reset counter from zero', () => {
    const now: TrafficTotals = {
      a: { green: { requests: 150, errors: 3 } },
      b: { green: { requests: 20, errors: 0 } },
    };
    const base: TrafficTotals = {
      a: { green: { requests: 100, errors: 1 } },
      b: { green: { requests: 500, errors: 9 } },
    };
    const w = colorWindow(now, base, 'green');
    expect(w).toMatchObject({ requests: 70, errors: 2, hosts: 2 });
    expect(w.successRate).toBeCloseTo((68 / 70) * 100);
    expect(colorWindow(now, base, 'blue')).toMatchObject({ requests: 0, hosts: 0, successRate: undefined });
  });
  it('reads HAProxy averages weighted by requests, and p99 from histograms as a bucket bound', () => {
    const avg = colorWindow(
      { a: { g: { requests: 10, errors: 0, avgMs: 100 } }, b: { g: { requests: 30, errors: 0, avgMs: 20 } } },
      undefined,
      'g',
    );
    expect(avg).toMatchObject({ latencyMs: 40, latencyKind: 'avg' });
    const h = new Array<number>(13).fill(0);
    h[bucketOf(3)] = 98;
    h[bucketOf(300)] = 2;
    expect(percentile(h, 0.99)).toBe(500);
    expect(percentile(h, 0.5)).toBe(5);
    expect(percentile(new Array<number>(13).fill(0), 0.99)).toBeUndefined();
    expect(bucketOf(20_000)).toBe(12);
  });
});

import { describe, expect, it } from '@jest/globals';
import { SwitchRefusedError } from '../../../src/errors.js';
import {
  decideCanary,
  decideRollback,
  decideSwitch,
  effectiveIdle,
  effectiveLive,
  type DecisionInput,
} from '../../../src/switch/decisions.js';
import type { ColorHealth } from '../../../src/switch/instance-health.js';
import type { ServiceState } from '../../../src/domain/service-state.js';
import { parseServiceState } from '../../../src/domain/service-state.js';

function health(counts: Record<string, [passing: number, total: number]>): Map<string, ColorHealth> {
  return new Map(
    Object.entries(counts).map(([color, [passing, total]]) => [color, { color, passing, total, instances: [] }]),
  );
}

function input(
  current: ServiceState | undefined,
  counts: Record<string, [number, number]>,
  extra: Partial<DecisionInput> = {},
) {
  return {
    service: 'app',
    current,
    health: health(counts),
    minPassing: 1,
    force: false,
    by: 'alice@ops1',
    at: '2030-01-01T00:00:00.000Z',
    ...extra,
  } satisfies DecisionInput;
}

function changed(d: ReturnType<typeof decideSwitch>) {
  if (d.kind !== 'change') throw new Error(`expected a change, got: ${d.message}`);
  // Whatever a decision writes must be readable back by the render role.
  const back = parseServiceState(JSON.stringify(d.state));
  expect(back.ok).toBe(true);
  return d;
}

describe('live and idle colors', () => {
  it('uses the stored live color', () => {
    expect(effectiveLive({ live: 'green' }, health({ blue: [2, 2], green: [0, 1] }))).toBe('green');
  });
  it('defaults to the first color in name order with a passing instance', () => {
    expect(effectiveLive(undefined, health({ blue: [0, 1], green: [1, 1] }))).toBe('green');
    expect(effectiveLive(undefined, health({ blue: [0, 1] }))).toBeUndefined();
    // No live color, no idle one: status agrees with the snapshot the templates get.
    expect(effectiveIdle(undefined, health({ blue: [0, 1], green: [0, 2] }))).toBeUndefined();
  });
  it('prefers the previous live color as idle', () => {
    const h = health({ blue: [1, 1], green: [1, 1], red: [1, 1] });
    expect(effectiveIdle({ live: 'green', previous: 'red' }, h)).toBe('red');
    expect(effectiveIdle({ live: 'green' }, h)).toBe('blue');
  });
});

describe('switch', () => {
  it('makes the target live and remembers the old live color', () => {
    const d = changed(
      decideSwitch(input({ live: 'blue' }, { blue: [2, 2], green: [2, 2] }, { reason: 'v2' }), 'green'),
    );
    expect(d.state).toEqual({
      live: 'green',
      previous: 'blue',
      updatedAt: '2030-01-01T00:00:00.000Z',
      updatedBy: 'alice@ops1',
      reason: 'v2',
    });
    expect(d.entry).toEqual({
      at: '2030-01-01T00:00:00.000Z',
      by: 'alice@ops1',
      action: 'switch',
      from: 'blue',
      to: 'green',
      reason: 'v2',
    });
  });

  it('switches from a derived live color when no state is stored', () => {
    const d = changed(decideSwitch(input(undefined, { blue: [1, 1], green: [1, 1] }), 'green'));
    expect(d.state.previous).toBe('blue');
    expect(d.entry.from).toBe('blue');
  });

  it('refuses a color with too few passing instances, saying why', () => {
    expect(() => decideSwitch(input({ live: 'blue' }, { blue: [1, 1], green: [0, 2] }), 'green')).toThrow(
      new SwitchRefusedError('green has 0 passing instances of app, need at least 1 (use --force to override)'),
    );
    expect(() =>
      decideSwitch(input({ live: 'blue' }, { blue: [1, 1], green: [2, 3] }, { minPassing: 3 }), 'green'),
    ).toThrow('green has 2 passing instances of app, need at least 3');
    expect(() => decideSwitch(input({ live: 'blue' }, { blue: [1, 1] }), 'green')).toThrow(
      'green has 0 passing instances of app',
    );
  });

  it('goes ahead with --force and says so', () => {
    const d = changed(decideSwitch(input({ live: 'blue' }, { blue: [1, 1], green: [0, 1] }, { force: true }), 'green'));
    expect(d.state.live).toBe('green');
    expect(d.warnings).toEqual([
      'green has 0 passing instances of app, need at least 1; going ahead because of --force',
    ]);
  });

  it('does nothing when the target is already live', () => {
    const d = decideSwitch(input({ live: 'green' }, { green: [0, 0] }), 'green');
    expect(d).toEqual({ kind: 'noop', message: 'green is already live for app; nothing to do' });
  });

  it('ends a running canary when switching to the live color', () => {
    const d = changed(
      decideSwitch(
        input({ live: 'blue', previous: 'green', weights: { blue: 75, green: 25 } }, { blue: [1, 1], green: [1, 1] }),
        'blue',
      ),
    );
    expect(d.state.live).toBe('blue');
    expect(d.state.weights).toBeUndefined();
    expect(d.state.previous).toBe('green');
  });
});

describe('rollback', () => {
  it('returns to the previous live color', () => {
    const d = changed(decideRollback(input({ live: 'green', previous: 'blue' }, { blue: [1, 1], green: [2, 2] })));
    expect(d.state).toMatchObject({ live: 'blue', previous: 'green' });
    expect(d.entry).toMatchObject({ action: 'rollback', from: 'green', to: 'blue' });
  });
  it('refuses when there is no previous color', () => {
    expect(() => decideRollback(input({ live: 'green' }, { green: [1, 1] }))).toThrow(
      'app has no previous live color to roll back to',
    );
    expect(() => decideRollback(input(undefined, { green: [1, 1] }))).toThrow(SwitchRefusedError);
  });
  it('refuses to roll back onto a color with no passing instance', () => {
    expect(() => decideRollback(input({ live: 'green', previous: 'blue' }, { green: [1, 1] }))).toThrow(
      'blue has 0 passing instances of app, need at least 1 (use --force to override)',
    );
  });
  it('during a canary, sends everything back to the live color', () => {
    const d = changed(decideRollback(input({ live: 'blue', weights: { blue: 90, green: 10 } }, { blue: [1, 1] })));
    expect(d.state.live).toBe('blue');
    expect(d.state.weights).toBeUndefined();
    expect(d.entry).toMatchObject({ action: 'rollback', from: 'green', to: 'blue' });
  });
});

describe('canary', () => {
  const h = { blue: [2, 2], green: [2, 2] } as Record<string, [number, number]>;
  it('splits traffic by weight between live and the canary color', () => {
    const d = changed(decideCanary(input({ live: 'blue', previous: 'red' }, h), 'green', 25));
    expect(d.state).toMatchObject({ live: 'blue', previous: 'red', weights: { blue: 75, green: 25 } });
    expect(d.entry).toMatchObject({ action: 'canary', from: 'blue', to: 'green', weights: { blue: 75, green: 25 } });
  });
  it('completes at 100: the canary color becomes live and weights are cleared', () => {
    const d = changed(decideCanary(input({ live: 'blue', weights: { blue: 50, green: 50 } }, h), 'green', 100));
    expect(d.state.live).toBe('green');
    expect(d.state.previous).toBe('blue');
    expect(d.state.weights).toBeUndefined();
  });
  it('at 0 ends the canary, and is a no-op when none runs', () => {
    const d = changed(decideCanary(input({ live: 'blue', weights: { blue: 50, green: 50 } }, h), 'green', 0));
    expect(d.state.weights).toBeUndefined();
    expect(decideCanary(input({ live: 'blue' }, h), 'green', 0).kind).toBe('noop');
  });
  it('refuses the live color, no live color, bad percentages and unhealthy canaries', () => {
    expect(() => decideCanary(input({ live: 'blue' }, h), 'blue', 10)).toThrow('blue is already live for app');
    expect(() => decideCanary(input(undefined, { blue: [0, 1] }), 'green', 10)).toThrow('app has no live color yet');
    expect(() => decideCanary(input({ live: 'blue' }, h), 'green', 101)).toThrow('from 0 to 100');
    expect(() => decideCanary(input({ live: 'blue' }, { blue: [1, 1], green: [0, 1] }), 'green', 10)).toThrow(
      'green has 0 passing instances of app',
    );
  });
});

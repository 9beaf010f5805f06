import { describe, expect, it } from '@jest/globals';
import type { HealthInstance } from '../../../src/consul/consul-client.js';
import { buildSnapshot, DEFAULT_COLORS, isSafeAddress } from '../../../src/snapshot/build-snapshot.js';
import { describeChanges, snapshotsEqual, summarizeChanges } from '../../../src/snapshot/snapshot-diff.js';
import { reportedServices } from '../../../src/snapshot/renderer-report.js';
import type { ServiceState } from '../../../src/domain/service-state.js';
import { healthInstance } from './fixtures.js';

function build(
  health: Record<string, HealthInstance[]>,
  states: Record<string, ServiceState> = {},
  services?: string[],
) {
  return buildSnapshot(
    { health: new Map(Object.entries(health)), states: new Map(Object.entries(states)) },
    { colors: DEFAULT_COLORS, ...(services ? { services } : {}) },
  );
}

describe('buildSnapshot', () => {
  it('sorts services and instances so the same catalog always gives the same snapshot', () => {
    const a = healthInstance('web', 'w2', { color: 'green', address: '10.0.0.9' });
    const b = healthInstance('web', 'w1', { color: 'blue', address: '10.0.0.7' });
    const c = healthInstance('api', 'a1', { color: 'blue' });
    const one = build({ web: [a, b], api: [c] }).snapshot;
    const two = build({ api: [c], web: [b, a] }).snapshot;
    expect(one.services.map((s) => s.name)).toEqual(['api', 'web']);
    expect(one.services[1]!.instances.map((i) => i.id)).toEqual(['w1', 'w2']);
    expect(snapshotsEqual(one, two)).toBe(true);
    expect(JSON.stringify(one)).toBe(JSON.stringify(two));
  });

  it('is frozen', () => {
    const { snapshot } = build({ web: [healthInstance('web', 'w1', { color: 'blue' })] });
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.services[0]!.instances[0]!)).toBe(true);
    expect(Object.isFrozen(snapshot.services[0]!.instances[0]!.meta)).toBe(true);
  });

  it('leaves out services without any colored instance unless --services names them', () => {
    const plain = healthInstance('redis', 'r1');
    expect(build({ redis: [plain] }).snapshot.services).toEqual([]);
    const listed = build({ redis: [plain] }, {}, ['redis', 'absent']).snapshot;
    expect(listed.services.map((s) => [s.name, s.instances.length])).toEqual([
      ['absent', 0],
      ['redis', 1],
    ]);
  });

  it('takes the color from Meta first, then from a known color tag', () => {
    const meta = healthInstance('web', 'm', { meta: { color: 'canary' }, tags: ['blue'] });
    const tag = healthInstance('web', 't', { meta: {}, tags: ['v1', 'green'] });
    const none = healthInstance('web', 'n', { meta: {}, tags: ['purple'] });
    const byId = Object.fromEntries(
      build({ web: [meta, tag, none] }).snapshot.services[0]!.instances.map((i) => [i.id, i.color]),
    );
    expect(byId).toEqual({ m: 'canary', t: 'green', n: undefined });
  });

  it('treats an invalid Meta color as uncolored and says why', () => {
    const bad = healthInstance('web', 'bad', { meta: { color: 'blue;\n server evil' } });
    const good = healthInstance('web', 'good', { color: 'blue' });
    const { snapshot, problems } = build({ web: [bad, good] });
    expect(snapshot.services[0]!.instances.find((i) => i.id === 'bad')!.color).toBeUndefined();
    expect(problems).toEqual([
      expect.objectContaining({
        service: 'web',
        instanceId: 'bad',
        message: expect.stringContaining('not a valid color'),
      }),
    ]);
  });

  it('leaves out instances whose address or port a proxy config must not carry', () => {
    const inject = healthInstance('web', 'x', { color: 'blue', address: '10.0.0.1;\n server evil 1.2.3.4' });
    const port = healthInstance('web', 'p', { color: 'blue', port: 0 });
    const ok = healthInstance('web', 'ok', { color: 'blue', address: 'app-1.internal' });
    const { snapshot, problems } = build({ web: [inject, port, ok] });
    expect(snapshot.services[0]!.instances.map((i) => i.id)).toEqual(['ok']);
    expect(problems.map((p) => p.instanceId).sort()).toEqual(['p', 'x']);
    expect(isSafeAddress('::1')).toBe(true);
    expect(isSafeAddress('a b')).toBe(false);
    expect(isSafeAddress('x'.repeat(1000))).toBe(false);
  });

  it('gives an instance the worst of its own and its node checks, and sees maintenance', () => {
    const nodeDown = healthInstance('web', 'n', { color: 'blue' });
    nodeDown.checks[0]!.status = 'critical';
    const warn = healthInstance('web', 'w', { color: 'blue', status: 'warning', address: '10.0.0.6' });
    const maint = healthInstance('web', 'm', { color: 'blue', address: '10.0.0.7' });
    maint.checks.push({
      checkId: '_service_maintenance:m',
      name: 'maint',
      status: 'critical',
      output: '',
      serviceId: 'm',
    });
    const nodeMaint = healthInstance('web', 'nm', { color: 'blue', address: '10.0.0.8' });
    nodeMaint.checks.push({
      checkId: '_node_maintenance',
      name: 'maint',
      status: 'critical',
      output: '',
      serviceId: '',
    });
    const none = healthInstance('web', 'z', { color: 'blue', address: '10.0.0.9', checks: [] });
    const got = Object.fromEntries(
      build({ web: [nodeDown, warn, maint, nodeMaint, none] }).snapshot.services[0]!.instances.map((i) => [
        i.id,
        [i.health, i.maintenance],
      ]),
    );
    expect(got).toEqual({
      n: ['critical', false],
      w: ['warning', false],
      m: ['critical', true],
      nm: ['critical', true],
      z: ['passing', false],
    });
  });

  it('uses the KV live color, else the first color with a passing instance; idle is the other color, previous first', () => {
    const blue = healthInstance('web', 'b', { color: 'blue', status: 'critical' });
    const green = healthInstance('web', 'g', { color: 'green', address: '10.0.0.6' });
    const canary = healthInstance('web', 'c', { color: 'canary', address: '10.0.0.7' });
    const derived = build({ web: [blue, green] }).snapshot.services[0]!;
    expect([derived.live, derived.idle]).toEqual(['green', 'blue']);

    const stated = build({ web: [blue, green, canary] }, { web: { live: 'blue', previous: 'green' } }).snapshot
      .services[0]!;
    expect([stated.live, stated.idle]).toEqual(['blue', 'green']);

    const noPassing = build({ web: [blue] }).snapshot.services[0]!;
    expect([noPassing.live, noPassing.idle]).toEqual([undefined, undefined]);
  });
});

describe('describeChanges', () => {
  it('says in words what changed, for the reload log line', () => {
    const blue = healthInstance('app', 'b1', { color: 'blue', address: '10.0.0.4' });
    const green = healthInstance('app', 'g1', { color: 'green', address: '10.0.0.5' });
    const before = build({ app: [blue] }, { app: { live: 'blue' } }).snapshot;
    const after = build(
      {
        app: [{ ...blue, checks: [{ ...blue.checks[1]!, status: 'critical' }] }, green],
        api: [healthInstance('api', 'a', { color: 'blue' })],
      },
      { app: { live: 'green', previous: 'blue' } },
    ).snapshot;
    expect(describeChanges(before, after)).toEqual([
      'api: service appeared with 1 instances, blue live',
      'app: green became live (was blue)',
      'app: instance 10.0.0.4:8080 (blue) is now critical (was passing)',
      'app: instance 10.0.0.5:8080 (green) added',
    ]);
    expect(describeChanges(after, before)).toContain('api: service gone');
    expect(describeChanges(after, before)).toContain('app: instance 10.0.0.5:8080 (green) removed');
    expect(describeChanges(undefined, before)).toEqual(['first config: 1 services, 1 instances']);
    expect(
      summarizeChanges(
        Array.from({ length: 12 }, (_, i) => `c${i}`),
        3,
      ),
    ).toBe('c0; c1; c2; and 9 more');
  });

  it('reports weights for the renderer report', () => {
    const snap = build(
      { app: [healthInstance('app', 'b', { color: 'blue' })] },
      { app: { live: 'blue', weights: { green: 10, blue: 90 } } },
    ).snapshot;
    expect(reportedServices(snap)).toEqual({ app: { live: 'blue', weights: { blue: 90, green: 10 } } });
  });
});

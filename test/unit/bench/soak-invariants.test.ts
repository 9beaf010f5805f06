import { describe, expect, it } from '@jest/globals';
import {
  SoakInvariants,
  type Observation,
  type RegisteredInstance,
  type RunningContainer,
} from '../../../bench/lib/soak-invariants.js';

const c = (id: string): RunningContainer => ({ id, name: `app-${id}`, service: 'app' });
const r = (id: string, passing = true): RegisteredInstance => ({
  serviceId: `soak:app-${id}:8080`,
  service: 'app',
  containerId: id,
  endpoint: `10.0.0.${id}:8080`,
  passing,
});

function obs(at: number, running: string[], registered: RegisteredInstance[], served?: string[]): Observation {
  return {
    at,
    running: new Map(running.map((id) => [id, c(id)])),
    registered: new Map(registered.map((x) => [x.serviceId, x])),
    served: served ? new Set(served) : undefined,
  };
}

describe('soak invariants', () => {
  it('counts a ghost once it has lasted the threshold, and only once', () => {
    const inv = new SoakInvariants(5_000, 20_000);
    inv.observe(obs(0, ['1'], [r('1'), r('2')]));
    inv.observe(obs(4_000, ['1'], [r('1'), r('2')]));
    expect(inv.count('ghosts')).toBe(0);
    inv.observe(obs(5_000, ['1'], [r('1'), r('2')]));
    inv.observe(obs(9_000, ['1'], [r('1'), r('2')]));
    expect(inv.violations).toEqual([
      expect.objectContaining({ counter: 'ghosts', key: 'ghost:soak:app-2:8080', since: 0, at: 5_000 }),
    ]);
  });

  it('a condition that clears within the threshold is not counted, and its clock restarts', () => {
    const inv = new SoakInvariants(5_000, 20_000);
    inv.observe(obs(0, ['1', '2'], [r('1')]));
    inv.observe(obs(4_000, ['1', '2'], [r('1')]));
    inv.observe(obs(4_500, ['1', '2'], [r('1'), r('2')]));
    inv.observe(obs(6_000, ['1', '2'], [r('1')]));
    inv.observe(obs(10_000, ['1', '2'], [r('1')]));
    expect(inv.count('missing')).toBe(0);
    inv.observe(obs(11_000, ['1', '2'], [r('1')]));
    expect(inv.count('missing')).toBe(1);
  });

  it('does not count inside a fault window and its settle time; counts from the end of the settle time', () => {
    const inv = new SoakInvariants(5_000, 10_000);
    const w = inv.faultStarted('dockerd-restart', 1_000);
    inv.observe(obs(2_000, [], [r('1')]));
    inv.faultEnded(w, 3_000);
    inv.observe(obs(12_000, [], [r('1')]));
    inv.observe(obs(17_000, [], [r('1')]));
    expect(inv.count('ghosts')).toBe(0);
    inv.observe(obs(18_000, [], [r('1')]));
    expect(inv.violations).toEqual([expect.objectContaining({ counter: 'ghosts', since: 13_000, at: 18_000 })]);
  });

  it('counts an instance served while not passing, and nothing while the proxy cannot be asked', () => {
    const inv = new SoakInvariants(5_000, 10_000);
    inv.observe(obs(0, ['1', '2'], [r('1'), r('2', false)], ['10.0.0.1:8080', '10.0.0.2:8080']));
    inv.observe(obs(3_000, ['1', '2'], [r('1'), r('2', false)], undefined));
    inv.observe(obs(5_000, ['1', '2'], [r('1'), r('2', false)], ['10.0.0.1:8080', '10.0.0.2:8080']));
    expect(inv.violations.map((v) => v.detail)).toEqual([
      'the proxy sends traffic to 10.0.0.2:8080, which is not a passing instance in Consul',
    ]);
  });

  it('sorts failed requests into inside and outside fault windows', () => {
    const inv = new SoakInvariants(5_000, 10_000);
    const w = inv.faultStarted('consul-stop', 100_000);
    inv.faultEnded(w, 120_000);
    inv.request(50_000, true);
    inv.request(99_999, false, 'status:503');
    inv.request(110_000, false, 'status:503');
    inv.request(129_000, false, 'status:503');
    inv.request(131_000, false, 'error:ECONNRESET');
    inv.killed(140_000);
    inv.request(141_000, false, 'status:502');
    expect(inv.requests).toEqual({
      ok: 1,
      failedOutside: 2,
      failedAfterKill: 1,
      failedInside: 2,
      failedByFault: { 'consul-stop': 2 },
    });
    expect(inv.outsideFailures).toEqual([
      { at: 99_999, why: 'status:503' },
      { at: 131_000, why: 'error:ECONNRESET' },
    ]);
  });

  it('counts a request in flight when a fault began as inside it (started 11 ms before, cut by it)', () => {
    const inv = new SoakInvariants(5_000, 10_000);
    const w = inv.faultStarted('proxy-master-kill', 100_000);
    inv.faultEnded(w, 104_000);
    inv.request(99_989, false, 'error:ECONNRESET', 100_002);
    // Ended before the fault began: still outside.
    inv.request(99_000, false, 'status:503', 99_500);
    expect(inv.requests.failedByFault).toEqual({ 'proxy-master-kill': 1 });
    expect(inv.outsideFailures).toEqual([{ at: 99_000, why: 'status:503' }]);
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { ConsulLiveness } from '../../../src/consul/consul-liveness.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A probe the test answers: ok, refused, or hanging until aborted (a SIGSTOPped agent). */
class Probe {
  mode: 'ok' | 'refused' | 'hang' = 'ok';
  calls = 0;
  run = (signal: AbortSignal): Promise<unknown> => {
    this.calls += 1;
    if (this.mode === 'ok') return Promise.resolve({});
    if (this.mode === 'refused') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8500'));
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
  };
}

const parts: ConsulLiveness[] = [];
afterEach(async () => {
  await Promise.all(parts.splice(0).map((p) => p.close()));
});

function setup() {
  const clock = new FakeClock();
  const probe = new Probe();
  const liveness = new ConsulLiveness({ probe: probe.run, clock, intervalMs: 5000, timeoutMs: 3000 });
  parts.push(liveness);
  return { clock, probe, liveness };
}

describe('ConsulLiveness', () => {
  it('is reachable after the first answer, and probes every interval', async () => {
    const { clock, probe, liveness } = setup();
    expect(liveness.state().reachable).toBeUndefined();
    await liveness.start();
    await clock.advance(0);
    expect(liveness.state()).toEqual({ reachable: true });
    await clock.advance(10_000);
    expect(probe.calls).toBe(3);
  });

  it('calls a hanging Consul unreachable after two probes time out, and reachable at the next answer', async () => {
    const { clock, probe, liveness } = setup();
    await liveness.start();
    await clock.advance(0);
    probe.mode = 'hang';
    const hungAt = clock.now() + 5000;
    await clock.advance(5000 + 3000);
    // One missed probe is not an outage.
    expect(liveness.state().reachable).toBe(true);
    await clock.advance(5000 + 3000);
    expect(liveness.state()).toEqual({
      reachable: false,
      downSince: hungAt + 3000,
      lastError: 'no answer within 3000 ms',
    });
    probe.mode = 'ok';
    await clock.advance(5000);
    expect(liveness.state()).toEqual({ reachable: true });
  });

  it('reports a refused connection with its error', async () => {
    const { clock, probe, liveness } = setup();
    probe.mode = 'refused';
    await liveness.start();
    await clock.advance(5000);
    expect(liveness.state()).toMatchObject({ reachable: false, lastError: 'connect ECONNREFUSED 127.0.0.1:8500' });
  });

  it('close() aborts a hanging probe and stops probing; it is idempotent', async () => {
    const { clock, probe, liveness } = setup();
    probe.mode = 'hang';
    await liveness.start();
    await Promise.all([liveness.close(), liveness.close()]);
    await clock.advance(60_000);
    expect(probe.calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });
});

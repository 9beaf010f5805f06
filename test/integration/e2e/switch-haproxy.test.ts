import { describe, expect, it } from '@jest/globals';
import { colorPhases, runSwitchScenario } from './switch-scenario.js';

describe('blue-green switch through HAProxy under load', () => {
  it('drops no request across switch, teardown, redeploy and rollback, and traffic follows the live color', async () => {
    const r = await runSwitchScenario('haproxy', (l) => process.stdout.write(`${l}\n`));
    const s = r.summary;
    process.stdout.write(
      `haproxy: ${s.requests} requests at ${s.rate} req/s, ${s.failed} failed ${JSON.stringify(s.failures)}, colors ${JSON.stringify(s.colors)}, latency ${JSON.stringify(s.latencyMs)}\n`,
    );
    expect(s.failureSamples).toEqual([]);
    expect(s.failed).toBe(0);
    expect(s.rate).toBeGreaterThanOrEqual(1000);
    expect(s.byClient.keepalive.requests).toBeGreaterThan(0);
    expect(s.byClient.fresh.requests).toBeGreaterThan(0);
    const phases = colorPhases(r);
    expect([...phases.beforeSwitch]).toEqual(['blue']);
    expect([...phases.afterSwitch]).toEqual(['green']);
    expect([...phases.afterRollback]).toEqual(['blue']);
    // The switch and rollback went through the admin socket, and the daemon said so.
    expect(r.daemonLog).toContain('changed through the admin socket');
    expect(r.metrics).toMatch(/switchyard_runtime_updates_total\{outcome="ok"\} [1-9]/);
  }, 300_000);
});
